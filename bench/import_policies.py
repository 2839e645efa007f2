"""Benchmark: import N generated policies (default 100,000) into a fresh SQLite database; report the rate.

    .venv/bin/python bench/import_policies.py [--count 100000] [--batch 1000] [--database-url URL]

The CSV file is generated first (streamed to a temporary folder), then imported through the same code
as ``idp policies import`` (:func:`idp.policies.import_csv`) with ``IDP_DELIVERY_MODE=worker``, the bulk
setting: welcome messages are queued in the outbox with their accounts, and ``idp deliveries run`` sends
them. The mix is realistic: mostly individual policyholders, a second policy for some of them, ДМС
through employers with and without the account, credit-linked policies, missing e-mails and landline
phones. Resident memory is sampled after every batch to show it stays flat. The rate is given per
second of wall time and per CPU-second of this process (fair on a shared machine).
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from idp.app import create_app  # noqa: E402
from idp.schema import create_schema  # noqa: E402
from idp.policies import import_csv  # noqa: E402
from idp.policies.importer import COLUMNS  # noqa: E402
from idp.settings import Settings  # noqa: E402

SURNAMES = ["Иванов", "Петров", "Сидоров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов",
            "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов"]
NAMES = ["Иван", "Пётр", "Алексей", "Сергей", "Андрей", "Дмитрий", "Михаил", "Николай", "Олег", "Юрий"]
PATRONYMICS = ["Иванович", "Петрович", "Сергеевич", "Андреевич", "Николаевич", "Олегович"]


def rss_mb() -> float:
    """Current resident memory of this process, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def generate(path: Path, count: int, seed: int = 2026) -> None:
    """Write ``count`` policy rows; about 88% give or join an account, the rest are refused or held."""
    rng = random.Random(seed)
    people: list[tuple] = []  # recent persons, for second policies
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(count):
            roll = rng.random()
            if people and roll < 0.10:  # a second policy of a recent customer
                person = people[rng.randrange(len(people))]
            else:
                name = f"{rng.choice(SURNAMES)} {rng.choice(NAMES)} {rng.choice(PATRONYMICS)}"
                birth = f"{rng.randint(1950, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                person = (name, birth, f"client{i}@example.com", f"+7916{i:07d}")
                people.append(person)
                if len(people) > 1000:
                    people.pop(0)
            name, birth, email, phone = person
            kind, employer, includes = "individual", "", ""
            product = rng.choice(["life", "accident_illness"])
            roll = rng.random()
            if roll < 0.12:
                kind, product, includes = "corporate", "dms", "true"
                employer = f"ООО «Работодатель {i % 500}»"
            elif roll < 0.16:
                kind, product, employer, includes = "corporate", "dms", f"АО «Завод {i % 300}»", "false"
            elif roll < 0.19:
                kind = "credit"
            elif roll < 0.22:
                email = ""
            elif roll < 0.24:
                phone = f"+7495{i:07d}"  # a Moscow landline: not a mobile phone
            start = f"2026-{rng.randint(1, 12):02d}-01"
            writer.writerow([f"P-{i:08d}", kind, product, "active", start, "2030-12-31", name, birth, email,
                             phone, employer, includes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--twice", action="store_true",
                        help="import the same file again (must change nothing)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="idp-bench-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "policies.csv"
        started = time.monotonic()
        generate(csv_path, args.count)
        print(f"generated {args.count} policies ({csv_path.stat().st_size / 2**20:.1f} MB) "
              f"in {time.monotonic() - started:.1f} s")

        database_url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
        settings = Settings.from_env(environ={}, secret_key="bench-" + "x" * 40, instance_dir=str(folder),
                                     database_url=database_url, delivery_mode="worker", bcrypt_rounds=4)
        app = create_app(settings)
        samples: list[float] = []

        def progress(report):
            samples.append(rss_mb())
            if report.rows % (args.batch * 20) == 0:
                print(f"  {report.rows:>7} rows  {report.rate:7.0f} rows/s  rss {samples[-1]:.0f} MB",
                      flush=True)

        runs = 2 if args.twice else 1
        with app.app_context():
            create_schema()
            for run in range(runs):
                samples.clear()
                cpu = time.process_time()
                with csv_path.open(encoding="utf-8") as stream:
                    report = import_csv(app.extensions["idp"], stream, batch_size=args.batch,
                                        progress=progress)
                data, cpu = report.as_dict(), time.process_time() - cpu
                print(f"run {run + 1}: {data['rows']} rows in {data['seconds']:.1f} s = "
                      f"{data['rows_per_second']:.0f} policies/s; {cpu:.1f} CPU-seconds = "
                      f"{data['rows'] / cpu:.0f} policies per CPU-second")
                counted = ("account_created", "attached", "updated", "unchanged", "held", "refused",
                           "invalid")
                print("  " + ", ".join(f"{k} {data[k]}" for k in counted))
                print(f"  reasons: {data['reasons']}; messages queued: {data['messages_queued']}")
                tenth = samples[max(len(samples) // 10 - 1, 0)]
                print(f"  resident memory: {tenth:.0f} MB after 10% of the file, "
                      f"{samples[-1]:.0f} MB at the end, peak sample {max(samples):.0f} MB")


if __name__ == "__main__":
    main()
