// Behaviour the templates once wrote inline (onchange=, onsubmit=). The Content-Security-Policy
// allows scripts only from this instance's static files, so the templates mark elements with
// data- attributes and this file acts on them. Every page works without it (plain forms).
"use strict";

// <select data-autosubmit>: submit its form as soon as a choice is made (the language switcher).
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) {
    select.form.submit();
  }
});

// <form data-confirm="question">: ask before an irreversible action; "Cancel" sends nothing.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
