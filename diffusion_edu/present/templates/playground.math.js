// The playground's mathematics, in plain JavaScript: seeded normals, the exact score of a noised 2-D
// Gaussian mixture (chapter 3), DDPM's linear schedule, the VP SDE, EDM's sigma, rectified flow's time grid
// and the trained chapter-8 network's forward pass. The samplers that use them are in playground.samplers.js.
// Points are a Float64Array [x0, y0, x1, y1, ...].
(function (global) {
  "use strict";
  const LOG_2PI = Math.log(2 * Math.PI);
  const T = 1000; // DDPM's step count; the linear schedule of chapter 7
  const VP = { betaMin: 0.1, betaMax: 20, nDiscrete: 1000, tMin: 1e-3 }; // sde.VPSDE() and its t_min

  // ---------------------------------------------------------------- random numbers
  // mulberry32: a small seeded generator (for the reader's runs; tests pass their own noise)
  function rng(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  // standard normals by Box-Muller: returns next() -> Float64Array(n)
  function normals(seed, n) {
    const uniform = rng(seed);
    return function () {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i += 2) {
        const radius = Math.sqrt(-2 * Math.log(1 - uniform())), angle = 2 * Math.PI * uniform();
        out[i] = radius * Math.cos(angle);
        if (i + 1 < n) out[i + 1] = radius * Math.sin(angle);
      }
      return out;
    };
  }

  // ---------------------------------------------------------------- the mixture
  // {weights, means: [[x, y]], stds, classes}; weights are normalised here (as GaussianMixture needs)
  function normalise(mixture) {
    const total = mixture.weights.reduce((a, b) => a + b, 0);
    return Object.assign({}, mixture, { weights: mixture.weights.map((w) => w / total) });
  }
  // p(x | y = label): the components of that class, weights renormalised (guidance.class_mixture)
  function classMixture(mixture, label) {
    const keep = mixture.classes.map((c, k) => (c === label ? k : -1)).filter((k) => k >= 0);
    return normalise({ weights: keep.map((k) => mixture.weights[k]), means: keep.map((k) => mixture.means[k]),
      stds: keep.map((k) => mixture.stds[k]), classes: keep.map(() => label) });
  }
  // grad log p of scale * X + noise_std * Z, X ~ mixture (GaussianMixture.score): each component stays
  // Gaussian, N(scale mu_k, scale^2 s_k^2 + noise_std^2), and the score is the responsibility-weighted
  // sum of the component scores -(x - m_k) / v_k
  function mixtureScore(mixture, x, scale, noiseStd) {
    const K = mixture.weights.length, n = x.length / 2, out = new Float64Array(x.length);
    const variance = mixture.stds.map((s) => scale * scale * s * s + noiseStd * noiseStd);
    const logWeight = mixture.weights.map(Math.log);
    const logp = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      const px = x[2 * i], py = x[2 * i + 1];
      let best = -Infinity;
      for (let k = 0; k < K; k++) {
        const dx = px - scale * mixture.means[k][0], dy = py - scale * mixture.means[k][1];
        logp[k] = logWeight[k] - 0.5 * ((dx * dx + dy * dy) / variance[k] + 2 * Math.log(variance[k]) + 2 * LOG_2PI);
        best = Math.max(best, logp[k]);
      }
      let total = 0, sx = 0, sy = 0;
      for (let k = 0; k < K; k++) {
        const r = Math.exp(logp[k] - best); // softmax, shifted by the max for stability
        total += r;
        sx -= r * (px - scale * mixture.means[k][0]) / variance[k];
        sy -= r * (py - scale * mixture.means[k][1]) / variance[k];
      }
      out[2 * i] = sx / total;
      out[2 * i + 1] = sy / total;
    }
    return out;
  }
  // fresh exact samples: a component k ~ w, then N(mu_k, s_k^2)
  function sampleMixture(mixture, n, seed) {
    const uniform = rng(seed), normal = normals(seed + 1, 2 * n)(), out = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      let u = uniform(), k = 0;
      while (k < mixture.weights.length - 1 && u >= mixture.weights[k]) u -= mixture.weights[k++];
      out[2 * i] = mixture.means[k][0] + mixture.stds[k] * normal[2 * i];
      out[2 * i + 1] = mixture.means[k][1] + mixture.stds[k] * normal[2 * i + 1];
    }
    return out;
  }

  // ---------------------------------------------------------------- schedules
  // DDPM's linear betas (schedules.linear_schedule) and alpha_bar = prod (1 - beta)
  const betas = Array.from({ length: T }, (_, i) => linspaceAt(1e-4, 0.02, T, i));
  const alphaBar = [];
  betas.reduce((product, beta, i) => (alphaBar[i] = product * (1 - beta)), 1);
  // torch.linspace's i-th value: from the start in the first half, from the end in the second
  function linspaceAt(start, end, n, i) {
    const step = (end - start) / (n - 1);
    return i < Math.floor(n / 2) ? start + step * i : end - step * (n - 1 - i);
  }
  function roundHalfEven(v) { // torch.round
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }
  // the kept step indices of a steps-long sampler (schedules.respace): evenly spaced over 0..T-1
  function keptSteps(steps) {
    return Array.from({ length: steps }, (_, i) => (steps === 1 ? 0 : roundHalfEven(linspaceAt(0, T - 1, steps, i))));
  }
  // the VP SDE dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw: DDPM's continuous limit (sde.VPSDE)
  const vpBeta = (t) => VP.betaMin + t * (VP.betaMax - VP.betaMin);
  const vpIntegral = (t) => VP.betaMin * t + 0.5 * (VP.betaMax - VP.betaMin) * t * t;
  const vpScale = (t) => Math.exp(-0.5 * vpIntegral(t));
  const vpStd = (t) => Math.sqrt(-Math.expm1(-vpIntegral(t)));
  // sde.time_grid: n + 1 times from 1 down to t_min, uniform
  const timeGrid = (steps) => Array.from({ length: steps + 1 }, (_, i) => linspaceAt(1, VP.tMin, steps + 1, i));
  // flow_samplers.flow_grid: n + 1 times from 1 (noise) down to 0 (data), uniform (rectified flow's grid)
  const flowGrid = (steps) => Array.from({ length: steps + 1 }, (_, i) => 1 - i / steps);
  // EDM's clock (chapter 17): x = x_t / sqrt(alpha_bar) = x_0 + sigma eps with sigma_t = sqrt((1 - ab) / ab)
  // (edm.schedule_sigmas); the playground runs EDM's samplers between DDPM's smallest and largest levels
  const logSigmas = alphaBar.map((ab) => Math.log(Math.sqrt((1 - ab) / ab)));
  const EDM = { sigmaMin: Math.sqrt((1 - alphaBar[0]) / alphaBar[0]),
    sigmaMax: Math.sqrt((1 - alphaBar[T - 1]) / alphaBar[T - 1]), rho: 7 };
  // edm.sigma_to_t: the fractional step whose sigma_t is sigma, linear in log sigma between neighbours
  function sigmaToT(sigma) {
    const logSigma = Math.log(Math.max(sigma, 1e-10));
    let low = -1;
    for (const value of logSigmas) if (logSigma >= value) low += 1;
    low = Math.min(Math.max(low, 0), T - 2);
    const w = (logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[low + 1]);
    return low + Math.min(Math.max(w, 0), 1);
  }
  // edm.karras_sigmas (EDM eq. 5): n levels equally spaced in sigma^(1/rho) from sigmaMax to sigmaMin, then 0
  function karrasSigmas(n) {
    const low = EDM.sigmaMin ** (1 / EDM.rho), high = EDM.sigmaMax ** (1 / EDM.rho);
    return Array.from({ length: n }, (_, i) => (high + linspaceAt(0, 1, n, i) * (low - high)) ** EDM.rho).concat([0]);
  }

  // ---------------------------------------------------------------- the trained network
  // nets.mlp.TimeMLP: sinusoidal(t) -> MLP -> emb; h = W x; 3 x [h += W2 silu(W1 LN(h) + b1 + emb) + b2];
  // out = W silu(LN(h)). Weights arrive as base64 float32 (row-major, torch's (out, in) layout) and are
  // widened once to float64, so every product below is exact and only the sums round.
  function decodeNetwork(json) {
    const tensors = {};
    for (const [name, entry] of Object.entries(json.tensors)) {
      const bytes = Uint8Array.from(atob(entry.data), (c) => c.charCodeAt(0));
      tensors[name] = { shape: entry.shape, values: Float64Array.from(new Float32Array(bytes.buffer)) };
    }
    const layer = (prefix) => ({ weight: tensors[prefix + ".weight"], bias: tensors[prefix + ".bias"] });
    return { depth: json.depth, width: json.width, frequencies: tensors.frequencies.values,
      embedding: [layer("time_embedding.mlp.0"), layer("time_embedding.mlp.2")], input: layer("input"),
      blocks: Array.from({ length: json.depth }, (_, b) => ({ norm: layer(`blocks.${b}.norm`),
        first: layer(`blocks.${b}.linear_1`), second: layer(`blocks.${b}.linear_2`) })),
      outNorm: layer("output.0"), output: layer("output.2"), buffers: null };
  }
  const silu = (v) => v / (1 + Math.exp(-v));
  // out (n, nOut) = input (n, nIn) W^T + b for n rows. Four rows at a time, so each weight is read once
  // per four products (this loop is nearly all of the network's time).
  function linear(layer, input, n, out) {
    const W = layer.weight.values, b = layer.bias.values, nOut = layer.weight.shape[0], nIn = layer.weight.shape[1];
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const a0 = i * nIn, a1 = a0 + nIn, a2 = a1 + nIn, a3 = a2 + nIn, o0 = i * nOut;
      for (let o = 0; o < nOut; o++) {
        let s0 = b[o], s1 = s0, s2 = s0, s3 = s0;
        for (let j = 0, row = o * nIn; j < nIn; j++) {
          const w = W[row + j];
          s0 += w * input[a0 + j]; s1 += w * input[a1 + j]; s2 += w * input[a2 + j]; s3 += w * input[a3 + j];
        }
        out[o0 + o] = s0; out[o0 + nOut + o] = s1; out[o0 + 2 * nOut + o] = s2; out[o0 + 3 * nOut + o] = s3;
      }
    }
    for (; i < n; i++) { // the last n mod 4 rows
      for (let o = 0; o < nOut; o++) {
        let s = b[o];
        for (let j = 0, row = o * nIn; j < nIn; j++) s += W[row + j] * input[i * nIn + j];
        out[i * nOut + o] = s;
      }
    }
    return out;
  }
  function layerNorm(norm, input, n, width, out) { // torch.nn.LayerNorm per row: eps 1e-5, biased variance
    const gamma = norm.weight.values, beta = norm.bias.values;
    for (let i = 0, r = 0; i < n; i++, r += width) {
      let mean = 0, variance = 0;
      for (let j = 0; j < width; j++) mean += input[r + j];
      mean /= width;
      for (let j = 0; j < width; j++) variance += (input[r + j] - mean) * (input[r + j] - mean);
      const inv = 1 / Math.sqrt(variance / width + 1e-5);
      for (let j = 0; j < width; j++) out[r + j] = (input[r + j] - mean) * inv * gamma[j] + beta[j];
    }
    return out;
  }
  // the time embedding, once per call (every point shares t). The angles are rounded to float32
  // as torch computes them (t.float() * freqs), so the codes of t ~ 1000 match torch's.
  function timeEmbedding(net, t) {
    const freqs = net.frequencies, half = freqs.length, features = new Float64Array(2 * half);
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(Math.fround(t) * freqs[j]);
      features[j] = Math.cos(angle);
      features[half + j] = Math.sin(angle);
    }
    const hidden = linear(net.embedding[0], features, 1, new Float64Array(net.width)).map(silu);
    return linear(net.embedding[1], hidden, 1, new Float64Array(net.width));
  }
  // eps_theta(x, t) for all points at one (possibly fractional) step index t, layer by layer
  function networkEps(net, x, t) {
    const W = net.width, n = x.length / 2, emb = timeEmbedding(net, t);
    if (!net.buffers || net.buffers.n !== n) { // activations (n, W), reused between calls
      net.buffers = { n, h: new Float64Array(n * W), normed: new Float64Array(n * W),
        u: new Float64Array(n * W), v: new Float64Array(n * W) };
    }
    const { h, normed, u, v } = net.buffers;
    linear(net.input, x, n, h);
    for (const block of net.blocks) {
      linear(block.first, layerNorm(block.norm, h, n, W, normed), n, u);
      for (let k = 0; k < n * W; k++) u[k] = silu(u[k] + emb[k % W]);
      linear(block.second, u, n, v);
      for (let k = 0; k < n * W; k++) h[k] += v[k];
    }
    layerNorm(net.outNorm, h, n, W, normed);
    for (let k = 0; k < n * W; k++) normed[k] = silu(normed[k]);
    return linear(net.output, normed, n, new Float64Array(2 * n));
  }

  global.DiffusionPlaygroundMath = { T, VP, EDM, rng, normals, normalise, classMixture, mixtureScore, sampleMixture,
    alphaBar, keptSteps, vpBeta, vpScale, vpStd, timeGrid, flowGrid, sigmaToT, karrasSigmas, decodeNetwork,
    networkEps };
})(window);
