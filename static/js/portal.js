// The browser's time zone, for the portal to show every time in it (portal/preferences.py
// reads the "tz" cookie: at the first login it becomes the account's zone, changeable there).
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.split("; ").indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
        (location.protocol === "https:" ? "; Secure" : "");
    }
  } catch (e) { /* no Intl: the account's or the default zone */ }
})();
