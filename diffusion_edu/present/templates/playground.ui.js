// The playground's page: controls, the canvas picture, dragging components, the animation and the
// readout. The mathematics is in playground.samplers.js (DiffusionPlaygroundMath).
// Hooks for tests: the root's data-state ("running", "animating", "done") and data-runs (a counter),
// and window.DiffusionPlayground.run(spec, x, noise) to run a sampler on given points and noise.
(function (global) {
  "use strict";
  const M = global.DiffusionPlaygroundMath;
  const VIEW = 3.0; // the canvas shows [-VIEW, VIEW]^2 (the root's data-view)
  const FRAMES = 60; // animation frames kept per run (a step is recorded when it crosses a frame)

  function mount(root, config) {
    const $ = (selector) => root.querySelector(selector);
    const canvas = $(".pg-canvas"), context = canvas.getContext("2d");
    root.dataset.view = String(VIEW);
    const network = config.network ? M.decodeNetwork(config.network) : null;
    mounted.network = network;
    const state = { mixture: null, selected: 0, seed: config.seed, result: null, frames: [], tracks: [],
      reference: null, runs: 0, animation: null };
    const networkOption = $(".pg-model").querySelector("option[value=network]");
    const flowOptions = $(".pg-sampler").querySelectorAll("option[value^=flow_]");
    if (!network) networkOption.disabled = true;

    // ------------------------------------------------------------ settings from the controls
    // the flow samplers run on the exact velocity only: with one of them the network is not offered (and a
    // model left on the network turns to the oracle, visibly), with the network they are not offered
    function spec() {
      const flow = $(".pg-sampler").value.startsWith("flow_");
      if (flow && $(".pg-model").value === "network") $(".pg-model").value = "exact";
      const model = $(".pg-model").value;
      return { sampler: $(".pg-sampler").value, steps: Number($(".pg-steps").value), eta: Number($(".pg-eta").value),
        model, mixture: state.mixture, label: Number($(".pg-label").value),
        guidance: model === "exact" ? Number($(".pg-guidance").value) : 0 };
    }
    function loadPreset() {
      const preset = config.presets[$(".pg-preset").value];
      state.mixture = JSON.parse(JSON.stringify(preset)); // a copy the reader can edit
      state.selected = 0;
    }

    // ------------------------------------------------------------ a run
    // run() shows the new settings at once and samples a moment later, so the page can paint
    // "sampling" first (the network takes seconds); changes made meanwhile join that one run
    let scheduled = false;
    function run() {
      const settings = spec();
      root.dataset.state = "running";
      $(".pg-eta").disabled = settings.sampler !== "ddim";
      $(".pg-guidance").disabled = $(".pg-label").disabled = settings.model !== "exact";
      const flow = settings.sampler.startsWith("flow_");
      networkOption.disabled = !network || flow;
      flowOptions.forEach((option) => { option.disabled = settings.model !== "exact"; });
      $(".pg-note").hidden = !flow;
      $(".pg-eta-value").textContent = settings.eta.toFixed(2);
      $(".pg-steps-value").textContent = String(settings.steps);
      $(".pg-guidance-value").textContent = settings.guidance.toFixed(2);
      $(".pg-weight").value = String(state.mixture.weights[state.selected]);
      $(".pg-weight-value").textContent = `${Number($(".pg-weight").value).toFixed(2)} (#${state.selected + 1})`;
      $(".pg-readout").textContent = `sampling ${config.nPoints} points…`;
      if (!scheduled) { scheduled = true; setTimeout(sample, 15); }
    }
    function sample() {
      scheduled = false;
      const settings = spec(), n = config.nPoints;
      const start = M.normals(state.seed, 2 * n)(); // x_T ~ N(0, I)
      const noise = M.normals(state.seed + 7919, 2 * n);
      // the animation keeps FRAMES clouds and every step of a few tracked points
      state.frames = [start]; state.tracks = [Array.from(start.slice(0, 2 * config.nTracked))];
      let stepsDone = 0;
      const record = (x) => {
        stepsDone += 1;
        state.tracks.push(Array.from(x.slice(0, 2 * config.nTracked)));
        if (Math.floor(stepsDone * FRAMES / settings.steps) > Math.floor((stepsDone - 1) * FRAMES / settings.steps)) {
          state.frames.push(x);
        }
      };
      const began = performance.now();
      state.result = M.run(settings, start, noise, network, record);
      const milliseconds = performance.now() - began;
      // the distance to fresh exact samples of the (possibly guided) target
      const target = settings.model === "exact" && settings.guidance > 0 ? guidedTarget(settings) : M.normalise(state.mixture);
      state.reference = M.sampleMixture(target, n, state.seed + 104729);
      const distance = M.slicedWasserstein(state.result.x, state.reference, 64, 1);
      $(".pg-readout").textContent = `sliced Wasserstein to ${n} fresh exact samples: ${distance.toFixed(3)} · ` +
        `NFE: ${state.result.evaluations} per point · ${n} points in ${milliseconds.toFixed(0)} ms`;
      root.dataset.milliseconds = milliseconds.toFixed(1);
      state.runs += 1;
      root.dataset.runs = String(state.runs);
      animate();
    }
    // what guidance aims at: the conditional mixture p(x | y) (w = 1), the readout's reference for any w > 0
    function guidedTarget(settings) {
      const mixture = M.normalise(state.mixture);
      const keep = mixture.classes.map((c, k) => (c === settings.label ? k : -1)).filter((k) => k >= 0);
      return M.normalise({ weights: keep.map((k) => mixture.weights[k]), means: keep.map((k) => mixture.means[k]),
        stds: keep.map((k) => mixture.stds[k]), classes: keep.map(() => settings.label) });
    }

    // ------------------------------------------------------------ the picture
    const toPixel = (v) => (v + VIEW) / (2 * VIEW) * canvas.width;
    const toWorld = (p) => p / canvas.width * 2 * VIEW - VIEW;
    const CLASS_COLOURS = ["#1f77b4", "#d62728"];
    function draw(frame, trackLength) {
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      const mixture = M.normalise(state.mixture);
      const radius = (k) => 2 * mixture.stds[k] / (2 * VIEW) * canvas.width;
      // the mixture: a circle of radius 2 std per component in its class's colour
      mixture.means.forEach((mean, k) => {
        context.strokeStyle = CLASS_COLOURS[mixture.classes[k] % 2];
        context.lineWidth = k === state.selected ? 2.5 : 1.2;
        context.beginPath();
        context.arc(toPixel(mean[0]), toPixel(-mean[1]), radius(k), 0, 2 * Math.PI);
        context.stroke();
      });
      // trajectories of the tracked points so far, light enough to see the cloud through
      context.lineWidth = 1;
      context.globalAlpha = 0.55;
      for (let p = 0; p < config.nTracked; p++) {
        context.strokeStyle = `hsl(${(p * 360) / config.nTracked}, 75%, 42%)`;
        context.beginPath();
        for (let s = 0; s < trackLength; s++) {
          const point = state.tracks[s];
          if (s === 0) context.moveTo(toPixel(point[2 * p]), toPixel(-point[2 * p + 1]));
          else context.lineTo(toPixel(point[2 * p]), toPixel(-point[2 * p + 1]));
        }
        context.stroke();
      }
      context.globalAlpha = 1;
      // the sampler's cloud at this frame
      context.fillStyle = "rgba(40, 40, 40, 0.5)";
      for (let i = 0; i < frame.length; i += 2) context.fillRect(toPixel(frame[i]) - 1.2, toPixel(-frame[i + 1]) - 1.2, 2.4, 2.4);
      // where each tracked point is now
      for (let p = 0; p < config.nTracked; p++) {
        const point = state.tracks[trackLength - 1];
        context.fillStyle = `hsl(${(p * 360) / config.nTracked}, 75%, 42%)`;
        context.beginPath();
        context.arc(toPixel(point[2 * p]), toPixel(-point[2 * p + 1]), 3, 0, 2 * Math.PI);
        context.fill();
      }
      // a handle per component (drag it), its size following the component's weight
      mixture.means.forEach((mean, k) => {
        const r = 5 + 10 * Math.sqrt(mixture.weights[k]);
        context.fillStyle = CLASS_COLOURS[mixture.classes[k] % 2];
        context.strokeStyle = "#fff";
        context.lineWidth = 1.5;
        context.fillRect(toPixel(mean[0]) - r / 2, toPixel(-mean[1]) - r / 2, r, r);
        context.strokeRect(toPixel(mean[0]) - r / 2, toPixel(-mean[1]) - r / 2, r, r);
      });
    }
    function animate() {
      if (state.animation) cancelAnimationFrame(state.animation);
      const frames = state.frames, tracks = state.tracks.length;
      if (!$(".pg-animate").checked) return finish();
      root.dataset.state = "animating";
      const began = performance.now(), duration = 1500;
      const tick = () => {
        const progress = Math.min((performance.now() - began) / duration, 1);
        draw(frames[Math.round(progress * (frames.length - 1))], Math.max(1, Math.round(progress * tracks)));
        if (progress < 1) state.animation = requestAnimationFrame(tick);
        else finish();
      };
      state.animation = requestAnimationFrame(tick);
    }
    function finish() {
      state.animation = null;
      draw(state.result.x, state.tracks.length);
      root.dataset.state = "done";
    }

    // ------------------------------------------------------------ dragging and re-weighting components
    let dragging = -1;
    const eventPoint = (event) => {
      const box = canvas.getBoundingClientRect();
      return [toWorld((event.clientX - box.left) * canvas.width / box.width),
        -toWorld((event.clientY - box.top) * canvas.height / box.height)];
    };
    canvas.addEventListener("pointerdown", (event) => {
      const [x, y] = eventPoint(event);
      const distances = state.mixture.means.map((m) => Math.hypot(m[0] - x, m[1] - y));
      const nearest = distances.indexOf(Math.min(...distances));
      if (distances[nearest] < 0.4) {
        dragging = state.selected = nearest;
        canvas.setPointerCapture(event.pointerId);
        $(".pg-weight").value = String(state.mixture.weights[nearest]);
        $(".pg-weight-value").textContent = `${state.mixture.weights[nearest].toFixed(2)} (#${nearest + 1})`;
        if (state.result) draw(state.result.x, state.tracks.length);
      }
    });
    canvas.addEventListener("pointermove", (event) => {
      if (dragging < 0) return;
      state.mixture.means[dragging] = eventPoint(event);
      if (state.result) draw(state.result.x, state.tracks.length);
    });
    const drop = () => { if (dragging >= 0) { dragging = -1; run(); } };
    canvas.addEventListener("pointerup", drop);
    canvas.addEventListener("pointercancel", drop);
    $(".pg-weight").addEventListener("input", () => {
      $(".pg-weight-value").textContent = `${Number($(".pg-weight").value).toFixed(2)} (#${state.selected + 1})`;
    });
    $(".pg-weight").addEventListener("change", () => {
      state.mixture.weights[state.selected] = Number($(".pg-weight").value);
      run();
    });

    // ------------------------------------------------------------ the other controls re-run the sampler
    for (const name of ["sampler", "model", "steps", "eta", "label", "guidance"]) {
      $(`.pg-${name}`).addEventListener("change", run);
    }
    // the sliders' numbers follow the thumb while it moves; the run starts when it is let go
    for (const [name, digits] of [["steps", 0], ["eta", 2], ["guidance", 2]]) {
      $(`.pg-${name}`).addEventListener("input", () => {
        $(`.pg-${name}-value`).textContent = Number($(`.pg-${name}`).value).toFixed(digits);
      });
    }
    $(".pg-preset").addEventListener("change", () => { loadPreset(); run(); });
    $(".pg-again").addEventListener("click", () => { state.seed += 1; run(); });
    $(".pg-animate").addEventListener("change", () => { if (state.result) animate(); });
    loadPreset();
    run();
  }

  // the test's entry point: run one sampler on given start points and noise (arrays of numbers),
  // with the network of the last mounted playground
  const mounted = { network: null };
  function runWith(spec, x, noise) {
    let draw = 0;
    const next = () => Float64Array.from(noise[draw++]);
    const result = M.run(spec, Float64Array.from(x), next, mounted.network);
    return { x: Array.from(result.x), evaluations: result.evaluations, draws: draw };
  }
  global.DiffusionPlayground = { mount, runWith, networkEps: (x, t) => Array.from(M.networkEps(mounted.network, Float64Array.from(x), t)) };
})(window);
