// Swaps the precomputed frames of one noising widget (diffusion_edu.present.noising_widget.static_html).
// string.Template fills in the payload (the JSON of noising_widget.frames()) and the widget root's id.
(function () {
  var D = ${payload};
  var root = document.getElementById("${id}");
  var q = function (c) { return root.querySelector("." + c); };
  var slider = q("de-noising-slider"), frame = q("de-noising-frame"), label = q("de-noising-t");
  var stats = q("de-noising-stats"), schedule = q("de-noising-schedule"), src = q("de-noising-source");
  var curves = q("de-noising-curves"), marker = q("de-noising-marker");
  function show() {
    var i = parseInt(slider.value, 10), s = schedule.value, g = D.geometry[s], t = D.t[i];
    frame.src = "data:image/png;base64," + D.frames[s][src.value][i];
    curves.src = "data:image/png;base64," + D.curves[s];
    marker.style.left = (100 * (g.left + g.width * t / D.T)) + "%";
    marker.style.top = (100 * g.top) + "%";
    marker.style.height = (100 * g.height) + "%";
    label.textContent = String(t);
    var snr = D.snr[s][i];
    // numbers only go into the markup: the signal level written as the book writes it
    stats.innerHTML = "<i>\u1fb1</i><sub><i>t</i></sub> = " + D.alpha_bar[s][i].toPrecision(3) +
      ", SNR = " + (snr === null ? "\u221e" : snr.toPrecision(3));
  }
  slider.addEventListener("input", show);
  slider.addEventListener("change", show);
  schedule.addEventListener("change", show);
  src.addEventListener("change", show);
  show();
})();
