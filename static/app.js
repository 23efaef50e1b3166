// keyward dashboard behaviour. Everything here only enhances: each action also works as a
// plain link or form without JavaScript. No inline scripts (the CSP forbids them).
(function () {
  "use strict";

  var FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

  // ---- dialogs: open from [data-dialog], close on Cancel/Escape, trap focus, restore focus
  function openDialog(dialog, opener) {
    if (!dialog || typeof dialog.showModal !== "function") return false;
    if (dialog.open) dialog.close();
    dialog._opener = opener || document.activeElement;
    dialog.showModal();
    var first = dialog.querySelector("[autofocus]") || dialog.querySelector("input:not([type=hidden]), " + FOCUSABLE);
    if (first) first.focus();
    return true;
  }

  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (openDialog(dialog, opener)) e.preventDefault();
      return;
    }
    var closer = e.target.closest("[data-dialog-close]");
    if (closer) {
      var d = closer.closest("dialog");
      if (d) d.close();
      return;
    }
    var done = e.target.closest("[data-dialog-done]");
    if (done) {
      var rd = done.closest("dialog");
      if (rd && rd.open) {
        e.preventDefault();
        rd.close();
      }
    }
  });

  document.addEventListener("close", function (e) {
    var d = e.target;
    if (!(d instanceof HTMLDialogElement)) return;
    d.querySelectorAll("form").forEach(function (f) { f.reset(); });
    d.querySelectorAll("[data-must-equal]").forEach(syncMustEqual);
    var url = d.getAttribute("data-close-url");
    if (url) {
      // The secret was shown once: leave the reveal URL so a reload never shows it again.
      history.replaceState(null, "", url);
      var secret = d.querySelector(".secret");
      if (secret) secret.textContent = "";
      d.remove();
    }
    if (d._opener && document.contains(d._opener)) d._opener.focus();
  }, true);

  document.addEventListener("keydown", function (e) {
    if (e.key !== "Tab") return;
    var d = document.querySelector("dialog[open]");
    if (!d || !d.contains(document.activeElement)) return;
    var items = Array.prototype.filter.call(d.querySelectorAll(FOCUSABLE), function (el) {
      return !el.hidden && el.offsetParent !== null;
    });
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) { last.focus(); e.preventDefault(); }
    else if (!e.shiftKey && document.activeElement === last) { first.focus(); e.preventDefault(); }
  });

  // ---- typed confirmation: the delete button stays disabled until the name matches
  function syncMustEqual(input) {
    var target = document.querySelector(input.getAttribute("data-enables"));
    if (target) target.disabled = input.value.trim() !== input.getAttribute("data-must-equal");
  }
  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("[data-must-equal]")) syncMustEqual(e.target);
  });

  // ---- copy buttons
  function flash(el, text) {
    if (!el) return;
    el.textContent = text;
    el.classList.add("show");
    setTimeout(function () { el.classList.remove("show"); el.textContent = ""; }, 4000);
  }
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.querySelector(btn.getAttribute("data-copy"));
    if (!src) return;
    var text = src.textContent.trim();
    var status = btn.parentElement.querySelector(".copied");
    var fallback = function () {
      var range = document.createRange();
      range.selectNodeContents(src);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
      flash(status, ok ? "Copied ✓" : "Selected — press Ctrl+C to copy");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { flash(status, "Copied ✓"); }, fallback);
    } else {
      fallback();
    }
  });

  // ---- tabs (snippets)
  function selectTab(tab) {
    var list = tab.closest("[role=tablist]");
    list.querySelectorAll("[role=tab]").forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      var panel = document.getElementById(t.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
    });
    tab.focus();
  }
  document.addEventListener("click", function (e) {
    var tab = e.target.closest("[role=tab]");
    if (tab) selectTab(tab);
  });
  document.addEventListener("keydown", function (e) {
    var tab = e.target.closest && e.target.closest("[role=tab]");
    if (!tab || (e.key !== "ArrowRight" && e.key !== "ArrowLeft")) return;
    var tabs = Array.prototype.slice.call(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var i = tabs.indexOf(tab) + (e.key === "ArrowRight" ? 1 : -1);
    selectTab(tabs[(i + tabs.length) % tabs.length]);
    e.preventDefault();
  });

  // ---- "add my current IP"
  document.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-add-ip]");
    if (!btn) return;
    var area = document.querySelector(btn.getAttribute("data-target"));
    var ip = btn.getAttribute("data-add-ip");
    var lines = area.value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
    if (lines.indexOf(ip) === -1) lines.push(ip);
    area.value = lines.join("\n");
    area.focus();
  });

  // ---- expiry preview
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function fmt(d) { return d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear(); }
  function updateExpiry() {
    var sel = document.getElementById("expiry");
    var out = document.getElementById("expiry-preview");
    var date = document.getElementById("expiry_date");
    if (!sel || !out) return;
    var v = sel.value;
    if (date) {
      date.hidden = v !== "custom";
      var lbl = document.querySelector('label[for="expiry_date"]');
      if (lbl) lbl.hidden = v !== "custom";
    }
    if (v === "none") out.textContent = "⚠ This token will never expire.";
    else if (v === "keep") out.textContent = "";
    else if (v === "custom") out.textContent = date && date.value ? "Valid through " + fmt(new Date(date.value + "T00:00:00Z")) + " (UTC)." : "Pick a date.";
    else out.textContent = "Expires on " + fmt(new Date(Date.now() + Number(v) * 86400000)) + ".";
  }
  document.addEventListener("change", function (e) {
    if (e.target.id === "expiry" || e.target.id === "expiry_date") updateExpiry();
  });

  // ---- toasts (flash messages and htmx HX-Trigger {"toast": …})
  function toast(kind, message) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = document.createElement("div");
    t.className = "toast toast-" + (kind || "info");
    t.textContent = message;
    box.appendChild(t);
    autoHide(t);
  }
  function autoHide(t) {
    setTimeout(function () {
      t.classList.add("toast-hide");
      setTimeout(function () { t.remove(); }, 400);
    }, 6000);
  }
  document.body.addEventListener("toast", function (e) { toast(e.detail.kind, e.detail.message); });
  document.body.addEventListener("htmx:responseError", function (e) {
    var msg = "Something went wrong. Reload the page and try again.";
    try {
      var doc = new DOMParser().parseFromString(e.detail.xhr.responseText, "text/html");
      var d = doc.querySelector(".error-detail");
      if (d) msg = d.textContent.trim();
    } catch (err) { /* keep the generic message */ }
    toast("error", msg);
  });
  document.body.addEventListener("htmx:sendError", function () {
    toast("error", "The server could not be reached. Check your connection and try again.");
  });

  function init() {
    document.querySelectorAll("#toasts .toast").forEach(autoHide);
    document.querySelectorAll("[data-add-ip]").forEach(function (b) { b.hidden = false; });
    document.querySelectorAll("[data-must-equal]").forEach(syncMustEqual);
    updateExpiry();
    var reveal = document.querySelector("dialog[data-autoshow]");
    if (reveal) {
      reveal.removeAttribute("open");
      openDialog(reveal, null);
      var copy = reveal.querySelector("[data-copy]");
      if (copy) copy.focus();
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
