// Prefill the time zone from the browser on the sign-up form; without JavaScript it stays UTC, editable.
(function () {
  var form = document.querySelector("form[data-prefill-timezone]");
  var select = form && form.querySelector("select[name=timezone]");
  if (!select || select.value !== "UTC" || !window.Intl) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) { select.value = zone; return; }
  }
})();
