/* The demo page's example questions: a click asks it in the widget. */
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-question]");
  if (button && window.citewell) window.citewell.ask(button.dataset.question);
});
