// The dashboard's few behaviours, from a file (no inline handlers: the pages work under a strict CSP).
document.addEventListener("DOMContentLoaded", () => {
  // The merchant switcher submits as soon as a merchant is picked (a button shows without JavaScript).
  for (const select of document.querySelectorAll("select[data-kassa-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
});
