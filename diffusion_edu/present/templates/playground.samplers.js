// The playground's samplers, in plain JavaScript, written to match the package's Python ones step for
// step (diffusion_edu.processes: ddpm, ddim, sde_samplers, edm_samplers, flow_samplers) on the mathematics of
// playground.math.js. Everything here is pure: noise comes from a function next() -> Float64Array(2N),
// so a test can feed the exact noise the Python sampler drew and compare the results.
(function (global) {
  "use strict";
  const M = global.DiffusionPlaygroundMath;
  const { T, VP, EDM, normalise, classMixture, mixtureScore, alphaBar, keptSteps, vpBeta, vpScale, vpStd, timeGrid,
    flowGrid, sigmaToT, karrasSigmas, networkEps, rng } = M;

  // ---------------------------------------------------------------- models
  // A model answers eps(x, stepIndex) for DDPM/DDIM, score(x, t) for the SDE samplers, denoise(x, sigma)
  // for EDM's and velocity(x, t) for the flow samplers, and counts its evaluations (guidance costs two:
  // conditional and unconditional).
  function makeModel(spec, network) {
    const mixture = normalise(spec.mixture);
    const guided = spec.model === "exact" && spec.guidance !== 0;
    const conditional = guided ? classMixture(mixture, spec.label) : null;
    const w = spec.guidance;
    const model = { evaluations: 0 };
    const combine = (uncond, cond) => uncond.map((u, j) => u + w * (cond[j] - u)); // eps_u + w (eps_c - eps_u)
    // the oracle's score at level (scale, std), guided or not
    const exactScore = (x, scale, std) => {
      if (!guided) return mixtureScore(mixture, x, scale, std);
      if (w === 1) return mixtureScore(conditional, x, scale, std);
      return combine(mixtureScore(mixture, x, scale, std), mixtureScore(conditional, x, scale, std));
    };
    const cost = guided && w !== 1 ? 2 : 1;
    model.eps = function (x, step) {
      model.evaluations += cost;
      if (spec.model === "network") return networkEps(network, x, step);
      const std = Math.sqrt(1 - alphaBar[step]);
      return exactScore(x, Math.sqrt(alphaBar[step]), std).map((s) => -std * s); // eps = -std * score
    };
    model.score = function (x, t) {
      model.evaluations += cost;
      if (spec.model === "network") { // score = -eps / std, the network fed the step index t (T - 1)
        const std = vpStd(t);
        return networkEps(network, x, Math.fround(Math.fround(t) * (T - 1))).map((e) => -e / std);
      }
      return exactScore(x, vpScale(t), vpStd(t));
    };
    // EDM's D(x, sigma): the oracle by Tweedie, x + sigma^2 score (edm.mixture_denoiser); the network as
    // x - sigma eps(x / sqrt(1 + sigma^2), t(sigma)) (edm.discrete_denoiser)
    model.denoise = function (x, sigma) {
      model.evaluations += cost;
      if (spec.model === "network") {
        const eps = networkEps(network, x.map((v) => v / Math.sqrt(1 + sigma * sigma)), sigmaToT(sigma));
        return x.map((v, j) => v - sigma * eps[j]);
      }
      const score = exactScore(x, 1, sigma);
      return x.map((v, j) => v + sigma * sigma * score[j]);
    };
    // rectified flow's exact marginal velocity u = E[eps - x_0 | x_t] on x_t = (1 - t) x_0 + t eps
    // (flow.mixture_velocity), from the score: E[x_0 | x_t] = (x_t + t^2 score) / (1 - t) by Tweedie and
    // E[eps | x_t] = -t score, so u = -(x_t + t score) / (1 - t). It is affine in the score, so guiding the
    // score guides u by the same rule. At t = 1 the score is -x_t for every mixture and E[x_0 | x_1] is the
    // mixture's mean m: u = x_t - m (guided: the guided mean). At t = 0, u = -x_t. The network, an eps
    // model of DDPM's steps, is not offered here.
    const meanOf = (m) => [0, 1].map((d) => m.weights.reduce((sum, w, k) => sum + w * m.means[k][d], 0));
    model.velocity = function (x, t) {
      if (spec.model !== "exact") throw new Error("the flow samplers run on the exact velocity only");
      model.evaluations += cost;
      t = Math.fround(t); // as the Python sampler passes it (a float32 tensor)
      if (t === 1) {
        const mean = !guided ? meanOf(mixture) : w === 1 ? meanOf(conditional)
          : combine(meanOf(mixture), meanOf(conditional));
        return x.map((v, j) => v - mean[j % 2]);
      }
      const score = exactScore(x, 1 - t, t);
      return x.map((v, j) => -(v + t * score[j]) / (1 - t));
    };
    return model;
  }

  // ---------------------------------------------------------------- samplers
  // Each takes (model, x, steps, options, next, record) and returns the final points; next() gives
  // the noise of one draw, record(x) sees the points after every step (for the animation).
  const axpy = (a, x, b, y) => x.map((v, j) => a * v + b * y[j]); // a x + b y

  // DDPM ancestral sampling (Algorithm 2) on the respaced chain (IDDPM): beta'_i = 1 - ab[k_i] / ab[k_{i-1}]
  function ddpm(model, x, steps, options, next, record) {
    const kept = keptSteps(steps);
    const shortAlphaBar = [];
    const shortBetas = kept.map((k, i) => 1 - alphaBar[k] / (i > 0 ? alphaBar[kept[i - 1]] : 1));
    shortBetas.reduce((product, beta, i) => (shortAlphaBar[i] = product * (1 - beta)), 1);
    for (let i = steps - 1; i >= 0; i--) {
      const beta = shortBetas[i], ab = shortAlphaBar[i], abPrev = i > 0 ? shortAlphaBar[i - 1] : 1;
      const eps = model.eps(x, kept[i]);
      // mean = (x - beta / sqrt(1 - ab) eps) / sqrt(1 - beta); sigma^2 = beta_tilde
      const mean = axpy(1 / Math.sqrt(1 - beta), x, -beta / Math.sqrt(1 - ab) / Math.sqrt(1 - beta), eps);
      x = i > 0 ? axpy(1, mean, Math.sqrt((1 - abPrev) / (1 - ab) * beta), next()) : mean;
      record(x);
    }
    return x;
  }

  // DDIM (eq. 12, sigma from eq. 16) on the same kept steps; eta = 0 deterministic, 1 ancestral
  function ddim(model, x, steps, options, next, record) {
    const kept = keptSteps(steps), eta = options.eta;
    for (let i = steps - 1; i >= 0; i--) {
      const ab = alphaBar[kept[i]], abPrev = i > 0 ? alphaBar[kept[i - 1]] : 1;
      const sigma = eta * Math.sqrt((1 - abPrev) / (1 - ab) * (1 - ab / abPrev));
      const eps = model.eps(x, kept[i]);
      const x0 = axpy(1 / Math.sqrt(ab), x, -Math.sqrt(1 - ab) / Math.sqrt(ab), eps);
      x = axpy(Math.sqrt(abPrev), x0, Math.sqrt(Math.max(1 - abPrev - sigma * sigma, 0)), eps);
      if (i > 0 && sigma > 0) x = axpy(1, x, sigma, next());
      record(x);
    }
    return x;
  }

  // one Euler-Maruyama step of the reverse SDE: x - [f - g^2 score] dt (+ g sqrt(dt) z unless last)
  function predictor(model, x, t, dt, last, next) {
    const beta = vpBeta(t), score = model.score(x, t);
    const mean = x.map((v, j) => v - (-0.5 * beta * v - beta * score[j]) * dt);
    return last ? mean : axpy(1, mean, Math.sqrt(vpBeta(Math.fround(t))) * Math.sqrt(dt), next());
  }
  function eulerMaruyama(model, x, steps, options, next, record) {
    const grid = timeGrid(steps);
    for (let i = 0; i < steps; i++) {
      x = predictor(model, x, grid[i], grid[i] - grid[i + 1], i === steps - 1, next);
      record(x);
    }
    return x;
  }
  // Langevin corrector (Song et al. 2021 Alg. 5): step 2 alpha (snr |z| / |score|)^2, norms averaged over points
  function correct(model, x, t, snr, next) {
    const alpha = 1 - vpBeta(t) / VP.nDiscrete, grad = model.score(x, t), noise = next();
    const meanNorm = (v) => {
      let total = 0;
      for (let i = 0; i < v.length; i += 2) total += Math.hypot(v[i], v[i + 1]);
      return total / (v.length / 2);
    };
    const gradNorm = meanNorm(grad), noiseNorm = meanNorm(noise);
    const step = gradNorm > 0 ? 2 * alpha * (snr * noiseNorm / gradNorm) ** 2 : 0;
    return x.map((v, j) => v + step * grad[j] + Math.sqrt(2 * step) * noise[j]);
  }
  function predictorCorrector(model, x, steps, options, next, record) {
    const grid = timeGrid(steps);
    for (let i = 0; i < steps; i++) {
      x = correct(model, x, grid[i], 0.16, next);
      x = predictor(model, x, grid[i], grid[i] - grid[i + 1], i === steps - 1, next);
      record(x);
    }
    return x;
  }
  // the probability-flow ODE dx/dt = f - g^2 score / 2, integrated by classic RK4 from 1 to t_min
  function probabilityFlow(model, x, steps, options, next, record) {
    const grid = timeGrid(steps);
    const velocity = (y, t) => { const s = model.score(y, t), beta = vpBeta(t);
      return y.map((v, j) => -0.5 * beta * v - 0.5 * beta * s[j]); };
    for (let i = 0; i < steps; i++) {
      const t = grid[i], h = grid[i + 1] - t;
      const k1 = velocity(x, t), k2 = velocity(axpy(1, x, h / 2, k1), t + h / 2);
      const k3 = velocity(axpy(1, x, h / 2, k2), t + h / 2), k4 = velocity(axpy(1, x, h, k3), t + h);
      x = x.map((v, j) => v + h * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]) / 6);
      record(x);
    }
    return x;
  }

  // EDM's samplers run x = x_t / sqrt(alpha_bar) from sigmaMax on the Karras grid; the start is DDPM's x_T so
  // scaled, and the animation sees the points scaled back to x_t
  const toEdm = (x) => x.map((v) => v * Math.sqrt(1 + EDM.sigmaMax * EDM.sigmaMax));
  const fromEdm = (x, sigma) => x.map((v) => v / Math.sqrt(1 + sigma * sigma));
  // Heun in sigma (EDM Algorithm 1): Euler to sigma', then the mean of the slopes at both ends (none at 0)
  function edmHeun(model, x, steps, options, next, record) {
    const sigmas = karrasSigmas(steps);
    x = toEdm(x);
    for (let i = 0; i < steps; i++) {
      const sigma = sigmas[i], sigmaNext = sigmas[i + 1], h = sigmaNext - sigma;
      const denoised = model.denoise(x, sigma), slope = x.map((v, j) => (v - denoised[j]) / sigma);
      let xNext = axpy(1, x, h, slope);
      if (sigmaNext > 0) {
        const again = model.denoise(xNext, sigmaNext);
        xNext = x.map((v, j) => v + h * (slope[j] + (xNext[j] - again[j]) / sigmaNext) / 2);
      }
      x = xNext;
      record(fromEdm(x, sigmaNext));
    }
    return x;
  }
  // DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2) with h = log(sigma / sigma'): x' = (sigma' / sigma) x
  // - (e^-h - 1) D, D extrapolated linearly in log-SNR from the last two denoisings; first order at the
  // first step and (under 15 steps) the last; the step to 0 returns D
  function dpmSolverPp2m(model, x, steps, options, next, record) {
    const sigmas = karrasSigmas(steps);
    let previous = null;
    x = toEdm(x);
    for (let i = 0; i < steps; i++) {
      const sigma = sigmas[i], sigmaNext = sigmas[i + 1], denoised = model.denoise(x, sigma);
      if (sigmaNext === 0) x = denoised;
      else {
        const h = Math.log(sigma / sigmaNext);
        let estimate = denoised;
        if (previous && !(i === steps - 1 && steps < 15)) {
          const r = previous.h / h;
          estimate = axpy(1 + 1 / (2 * r), denoised, -1 / (2 * r), previous.denoised);
        }
        x = axpy(sigmaNext / sigma, x, -Math.expm1(-h), estimate);
        previous = { denoised, h };
      }
      record(fromEdm(x, sigmaNext));
    }
    return x;
  }
  // flow matching (chapter 16): dx/dt = u(x, t) from t = 1 (noise) to 0 (data) on the uniform grid, steps
  // h = t' - t < 0. Euler: x + h u(x, t), one velocity per step; Heun: an Euler trial to t', then the mean of
  // the velocities at both ends, two per step, also the last (u is finite at t = 0)
  function flowEuler(model, x, steps, options, next, record) {
    const grid = flowGrid(steps);
    for (let i = 0; i < steps; i++) {
      x = axpy(1, x, grid[i + 1] - grid[i], model.velocity(x, grid[i]));
      record(x);
    }
    return x;
  }
  function flowHeun(model, x, steps, options, next, record) {
    const grid = flowGrid(steps);
    for (let i = 0; i < steps; i++) {
      const t = grid[i], h = grid[i + 1] - t, k1 = model.velocity(x, t);
      const k2 = model.velocity(axpy(1, x, h, k1), t + h);
      x = x.map((v, j) => v + h * (k1[j] + k2[j]) / 2);
      record(x);
    }
    return x;
  }
  const SAMPLERS = { ddpm, ddim, euler_maruyama: eulerMaruyama, predictor_corrector: predictorCorrector,
    probability_flow: probabilityFlow, edm_heun: edmHeun, dpm_solver_pp_2m: dpmSolverPp2m, flow_euler: flowEuler,
    flow_heun: flowHeun };

  // run(spec, x, next, record) -> {x, evaluations}: spec = {sampler, steps, eta, model: "exact" |
  // "network", mixture, label, guidance}; network is the decoded network (or null)
  function run(spec, x, next, network, record) {
    const model = makeModel(spec, network);
    const result = SAMPLERS[spec.sampler](model, Float64Array.from(x), spec.steps, spec, next, record || (() => {}));
    return { x: result, evaluations: model.evaluations };
  }

  // ---------------------------------------------------------------- the readout's distance
  // sliced 1-Wasserstein (metrics.sliced_wasserstein): mean over directions of the 1-D W1 distance
  // between sorted projections (equal sample sizes: the quantiles are the sorted values)
  function slicedWasserstein(a, b, nDirections, seed) {
    const uniform = rng(seed), n = Math.min(a.length, b.length) / 2;
    let total = 0;
    for (let d = 0; d < nDirections; d++) {
      const angle = 2 * Math.PI * uniform(), c = Math.cos(angle), s = Math.sin(angle);
      const pa = new Float64Array(n), pb = new Float64Array(n);
      for (let i = 0; i < n; i++) { pa[i] = c * a[2 * i] + s * a[2 * i + 1]; pb[i] = c * b[2 * i] + s * b[2 * i + 1]; }
      pa.sort(); pb.sort();
      let sum = 0;
      for (let i = 0; i < n; i++) sum += Math.abs(pa[i] - pb[i]);
      total += sum / n;
    }
    return total / nDirections;
  }

  Object.assign(M, { run, slicedWasserstein, SAMPLERS });
})(window);
