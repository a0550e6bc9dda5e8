// A live "123 / 500" under each text field with data-max-chars. The field has no maxlength (the
// browser would cut a longer paste without a word): the form refuses a text that is too long when
// it is sent, and this shows it coming. Without JavaScript, that error message is all there is.
(function () {
  var fields = document.querySelectorAll("textarea[data-max-chars], input[data-max-chars]");
  Array.prototype.forEach.call(fields, function (field) {
    var max = parseInt(field.getAttribute("data-max-chars"), 10);
    var counter = document.createElement("p");
    counter.id = field.id + "_counter";
    counter.className = "counter";
    // Screen readers hear the count once typing pauses, not at every key.
    var status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("aria-live", "polite");
    field.insertAdjacentElement("afterend", counter);
    counter.insertAdjacentElement("afterend", status);
    var described = field.getAttribute("aria-describedby");
    field.setAttribute("aria-describedby", (described ? described + " " : "") + counter.id);
    var timer = null;

    function update() {
      // Characters as the server counts them (code points, ends trimmed), not UTF-16 units.
      var used = Array.from(field.value.trim()).length;
      var over = used - max;
      counter.textContent = used + " / " + max + (over > 0 ? ": " + over + " too many" : "");
      counter.classList.toggle("counter--over", over > 0);
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        status.textContent = over > 0
          ? over + " characters too many: at most " + max
          : used + " of " + max + " characters used";
      }, 1000);
    }

    field.addEventListener("input", update);
    update();
  });
})();
