// Wide derivations fit the text column: after MathJax has typeset the page, a display equation in
// a notebook output that is wider than its column is set in a smaller font (down to 60%), so a
// reader never scrolls sideways. Equations in collapsed cells are fitted when they are opened.
(function () {
  "use strict";
  const MIN_SCALE = 0.6;

  function fit(root) {
    root.querySelectorAll('.cell_output mjx-container[display="true"]').forEach(function (math) {
      math.style.fontSize = "";
      const available = math.clientWidth, needed = math.scrollWidth;
      if (available > 0 && needed > available + 1) {
        const scale = Math.max(MIN_SCALE, Math.floor((available / needed) * 100) / 100);
        math.style.fontSize = Math.round(scale * 100) + "%";
      }
    });
  }

  function whenTypeset(callback) {
    const started = window.MathJax && MathJax.startup && MathJax.startup.promise;
    if (started) { MathJax.startup.promise.then(callback); } else { setTimeout(function () { whenTypeset(callback); }, 50); }
  }

  whenTypeset(function () {
    fit(document);
    document.documentElement.dataset.mathFitted = "1";
    document.addEventListener("toggle", function (event) { fit(event.target); }, true);
    window.addEventListener("resize", function () { fit(document); });
  });
})();
