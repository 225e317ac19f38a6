/* Tidings console: live inbox (server-sent events), countdowns, compose helpers. No dependencies. */
(function () {
  "use strict";

  /* -- countdowns ------------------------------------------------------------------------ */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function fmt(ms) {
    var s = Math.ceil(ms / 1000), d = Math.floor(s / 86400);
    s -= d * 86400;
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return "in " + (d ? d + " d " : "") + (d || h ? pad(h) + ":" : "") + pad(m) + ":" + pad(sec);
  }
  function startCountdowns() {
    var items = Array.prototype.slice.call(document.querySelectorAll(".countdown[data-due-ms]"));
    if (!items.length) return;
    var holder = document.querySelector("[data-server-now]");
    var skew = holder ? Number(holder.getAttribute("data-server-now")) - Date.now() : 0;
    function tick() {
      var now = Date.now() + skew;
      items.forEach(function (el) {
        var left = Number(el.getAttribute("data-due-ms")) - now;
        var text = left > 0 ? fmt(left) : "due now — sending";
        if (el.textContent !== text) el.textContent = text;
        el.classList.toggle("due", left <= 0);
      });
    }
    tick();
    window.setInterval(tick, 250);
  }

  /* -- live inbox ------------------------------------------------------------------------ */
  function startLive() {
    var inbox = document.getElementById("inbox");
    if (!inbox || !inbox.hasAttribute("data-live-since") || !window.EventSource) return;
    var status = document.getElementById("live-status");
    var source = new EventSource("/inbox/events?since=" + encodeURIComponent(inbox.getAttribute("data-live-since")));
    source.addEventListener("open", function () { if (status) { status.textContent = "Live"; status.classList.remove("off"); } });
    source.addEventListener("error", function () { if (status) { status.textContent = "Reconnecting…"; status.classList.add("off"); } });
    source.addEventListener("message", function (ev) {
      var msg = JSON.parse(ev.data);
      if (document.getElementById((msg.kind === "reply" ? "r-" : "m-") + msg.id)) return;
      var phone = null;
      Array.prototype.forEach.call(inbox.querySelectorAll("section.phone"), function (s) {
        if (s.getAttribute("data-to") === msg.to) phone = s;
      });
      if (!phone) {
        var tpl = document.getElementById("conversation-template");
        phone = tpl.content.firstElementChild.cloneNode(true);
        phone.setAttribute("data-to", msg.to);
        phone.setAttribute("aria-label", "Messages to " + msg.to);
        phone.querySelector(".phone-to").textContent = msg.to;
        var box = phone.querySelector(".reply-box");
        if (box) {
          box.querySelector('input[name="from"]').value = msg.to;
          var labels = box.querySelectorAll("label");
          var text = box.querySelector('input[name="text"]'), channel = box.querySelector("select");
          text.id = "reply-" + msg.to; channel.id = "reply-ch-" + msg.to;
          text.placeholder = "Reply as " + msg.to;
          labels[0].htmlFor = text.id; labels[0].textContent = "Reply as " + msg.to;
          labels[1].htmlFor = channel.id;
        }
      }
      var holder = document.createElement("ol");
      holder.innerHTML = msg.html; /* rendered and escaped by the server's templates */
      var item = holder.firstElementChild;
      item.classList.add("fresh");
      var thread = phone.querySelector(".thread");
      thread.insertBefore(item, thread.firstChild);
      inbox.insertBefore(phone, inbox.firstChild);
      var empty = document.getElementById("inbox-empty");
      if (empty) empty.classList.add("hidden");
    });
  }

  /* -- compose --------------------------------------------------------------------------- */
  var GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM_EXT = "\f^{}\\[~]|€";
  function smsInfo(text) {
    var gsm = true, septets = 0, units = 0;
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i);
      if (GSM.indexOf(ch) >= 0) septets += 1;
      else if (GSM_EXT.indexOf(ch) >= 0) septets += 2;
      else gsm = false;
    }
    units = text.length; /* UTF-16 code units */
    if (gsm) return "GSM-7 · " + (septets <= 160 ? 1 : Math.ceil(septets / 153)) + " segment(s) · " + septets + " septets";
    return "UCS-2 · " + (units <= 70 ? 1 : Math.ceil(units / 67)) + " segment(s) · " + units + " units";
  }
  function startCompose() {
    var tts = document.getElementById("time_to_send");
    if (tts) {
      var out = document.getElementById("tts-utc"), off = document.getElementById("tz_offset");
      var update = function () {
        if (!tts.value) { out.textContent = "Sent as soon as you press Send."; off.value = ""; return; }
        var d = new Date(tts.value);
        if (isNaN(d.getTime())) { out.textContent = ""; return; }
        off.value = String(d.getTimezoneOffset());
        out.textContent = "= " + d.toISOString().replace(".000Z", "Z").replace("T", " ") + " UTC";
      };
      tts.addEventListener("input", update);
      tts.addEventListener("change", update);
      update();
    }
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-counter]"), function (ta) {
      var row = ta.closest(".channel-edit");
      var sel = row ? row.querySelector("select") : null;
      var out = document.getElementById(ta.getAttribute("data-counter"));
      var update = function () {
        var ch = sel ? sel.value : "";
        out.textContent = ch === "sms" ? smsInfo(ta.value) : (ta.value ? ta.value.length + " characters" : "");
      };
      ta.addEventListener("input", update);
      if (sel) sel.addEventListener("change", update);
      update();
    });
  }

  /* -- local times as tooltips ------------------------------------------------------------ */
  function localTitles() {
    Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d.getTime())) t.title = "Your time: " + d.toLocaleString();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startCountdowns();
    startLive();
    startCompose();
    localTitles();
  });
})();
