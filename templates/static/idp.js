// Enhancements only: the server decides everything. Loaded as a file (the CSP forbids inline script).
(function () {
  "use strict";

  // Show/hide toggles: real buttons, so Tab reaches them and Enter/Space press them.
  function setupToggles() {
    document.querySelectorAll("button.toggle[aria-controls]").forEach(function (button) {
      var input = document.getElementById(button.getAttribute("aria-controls"));
      if (!input) return;
      var label = (button.getAttribute("aria-label") || "").split(": ").slice(1).join(": ");
      button.hidden = false;
      button.addEventListener("click", function () {
        var show = input.type === "password";
        input.type = show ? "text" : "password";
        button.setAttribute("aria-pressed", show ? "true" : "false");
        var word = show ? button.dataset.hide : button.dataset.show;
        button.setAttribute("aria-label", label ? word + ": " + label : word);
      });
    });
  }

  // The live checklist of the password rules on «Изменение пароля»: the seed's rules, as
  // idp.passwords.rules.RULES checks them. Its LIMITS (at most 256 characters, no control or invisible
  // characters) are not in the checklist: the server reports them, each with its own message.
  var checks = {
    "password.rule.length": function (p) { return p.length >= 8; },
    "password.rule.upper": function (p) { return /[A-Z]/.test(p); },
    "password.rule.lower": function (p) { return /[a-z]/.test(p); },
    "password.rule.digit": function (p) { return /[0-9]/.test(p); }
  };

  function setupChecklist() {
    var input = document.getElementById("new");
    var list = document.getElementById("rules");
    if (!input || !list) return;
    function update() {
      list.querySelectorAll("li[data-rule]").forEach(function (item) {
        var check = checks[item.dataset.rule];
        var met = !!check && check(input.value);
        item.classList.toggle("met", met);
        item.setAttribute("data-met", met ? "true" : "false");
      });
    }
    input.addEventListener("input", update);
    update();
  }

  function focusErrors() {
    var errors = document.getElementById("form-errors");
    if (errors) errors.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupToggles();
    setupChecklist();
    focusErrors();
  });
})();
