// Behaviour the templates once wrote inline (onchange=, onsubmit=). The Content-Security-Policy
// allows scripts only from this instance's static files, so the templates mark elements with
// data- attributes and this file acts on them. Every page works without it (plain forms).
"use strict";

// <select data-autosubmit>: submit its form as soon as a choice is made (the language switcher).
// With unsaved input on the page (data-warn-unsaved below) it asks its data-unsaved-question
// first; "Cancel" puts the choice back and keeps the page as it is.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (!select || !select.form) {
    return;
  }
  if (unsavedForm && select.dataset.unsavedQuestion) {
    if (!window.confirm(select.dataset.unsavedQuestion)) {
      for (const option of select.options) {
        option.selected = option.defaultSelected;
      }
      return;
    }
    unsavedForm = null;   // asked already: leaving must not ask a second time
  }
  select.form.submit();
});

// <form data-confirm="question">: ask before an irreversible action; "Cancel" sends nothing.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// The header's menu groups are <details> and open without this file; with it, a click elsewhere
// or Escape closes an open group, as people expect of a dropdown.
document.addEventListener("click", (event) => {
  for (const group of document.querySelectorAll("header.site details.menu-group[open]")) {
    if (!group.contains(event.target)) {
      group.open = false;
    }
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") {
    return;
  }
  const group = document.activeElement && document.activeElement.closest("details.menu-group[open]");
  if (group) {
    group.open = false;
    group.querySelector("summary").focus();
  }
});

// <form data-warn-unsaved>: once something is typed or chosen in it, leaving the page any other
// way (a link, the language switcher, which is another form) asks first, because the browser
// would drop what was typed. data-warn-unsaved="now": the form already holds unsaved input (a
// Preview or a validation error sent it back). Its own buttons leave without a question.
let unsavedForm = document.querySelector("form[data-warn-unsaved='now']");
const noteUnsaved = (event) => {
  const form = event.target.closest && event.target.closest("form[data-warn-unsaved]");
  if (form) {
    unsavedForm = form;
  }
};
document.addEventListener("input", noteUnsaved);
document.addEventListener("change", noteUnsaved);
document.addEventListener("submit", (event) => {
  if (event.target === unsavedForm && !event.defaultPrevented) {
    unsavedForm = null;
  }
});
window.addEventListener("beforeunload", (event) => {
  if (unsavedForm) {
    event.preventDefault();
    event.returnValue = "";
  }
});
