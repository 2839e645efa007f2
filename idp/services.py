"""The provider's collaborators, built once per app and passed explicitly to domain code."""
from __future__ import annotations

from dataclasses import dataclass

from idp.clock import Clock
from idp.delivery import Courier, MessageRenderer, build_courier
from idp.passwords.admission import Admission, FloodWatch, ShedSink
from idp.passwords.hashing import PasswordHasher
from idp.delivery.sms import oversized_sms
from idp.settings import Settings, SettingsError
from idp.throttling import RedisStore, SqlStore, Throttler


@dataclass
class Services:
    settings: Settings
    clock: Clock
    hasher: PasswordHasher
    courier: Courier
    renderer: MessageRenderer
    throttler: Throttler
    #: This worker's lanes of password checks (:mod:`idp.passwords.admission`).
    admission: Admission
    #: The signing keys (:class:`idp.keys.KeyStore`), set by :func:`idp.oidc.setup.init_oidc`: what signs
    #: the logout tokens queued when a session ends (:mod:`idp.oidc.backchannel`).
    keys: object | None = None

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None, courier: Courier | None = None,
              shedding_sink: ShedSink | None = None) -> "Services":
        renderer = MessageRenderer(settings.templates_dir)
        oversized = oversized_sms(renderer, settings.templates_dir, issuer=settings.issuer, sms_link=settings.sms_link)
        if oversized:
            raise SettingsError("an SMS would need more than two segments (shorten the template or set a short "
                                "IDP_SMS_LINK): " + "; ".join(oversized))
        clock = clock or Clock()
        return cls(
            settings=settings,
            clock=clock,
            hasher=PasswordHasher(settings.bcrypt_rounds, settings.password_pepper),
            courier=courier or build_courier(settings),
            renderer=renderer,
            throttler=Throttler(RedisStore.from_url(settings.redis_url) if settings.redis_url else SqlStore(),
                                settings.limits()),
            admission=Admission(settings.admission(), FloodWatch(clock, shedding_sink)),
        )
