// spine's dashboard: the little that needs the browser. No build step, no framework.
"use strict";

(function () {
  // Times: the server writes UTC; show them in the reader's zone, UTC stays in the title.
  const absolute = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

  function ago(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size || unit === "second") {
        return relative.format(Math.round(seconds / size), unit);
      }
    }
    return "";
  }

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      const date = new Date(element.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      const text = absolute.format(date);
      element.textContent = element.dataset.when === "relative" ? ago(date) + " (" + text + ")" : text;
    });
  }

  function flash(message, isError) {
    const box = document.getElementById("flash");
    if (!box) return;
    const line = document.createElement("p");
    line.className = isError ? "flash error" : "flash";
    line.setAttribute("role", isError ? "alert" : "status");
    line.textContent = message;
    box.replaceChildren(line);
  }

  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:load", function (event) { localTimes(event.target); });
  // A failed htmx request: show the error page's message, keep the page as it was.
  document.addEventListener("htmx:responseError", function (event) {
    const page = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html");
    const message = page.querySelector(".error-page .error");
    flash(message ? message.textContent : "the request failed (" + event.detail.xhr.status + ")", true);
  });
  document.addEventListener("htmx:sendError", function () {
    flash("spine did not answer: is it still running?", true);
  });
})();
