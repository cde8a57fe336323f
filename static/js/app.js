// Small progressive enhancements; the site works without this file.
(function () {
  "use strict";
})();
