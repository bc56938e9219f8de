// Token choice on the GPU: argmax, and sampling with temperature, top-k and top-p (nucleus).
//
// Layout: logits [rows, n] f32; mask [rows, n] or [1, n] (mask_row = 0: one mask for every row),
// added to the logits (banned tokens = -inf); tokens u32 [rows]. Read as V chunks (lane_vector:
// vec4 when n % 4 == 0; params.n counts chunks). Without a mask the op binds the logits as `mask`
// too; MASKED is false and it is never read.
// Includes: lane_vector and a row reduction (subgroup or shared). One workgroup of WG lanes per row.
//
// argmax: the largest logit + mask; ties go to the lowest index; a row that is entirely -inf gives 0.
//
// sample: x = (logit + mask) / temperature over the finite entries (-inf ones are never chosen).
//  1. max M and the number F of finite entries.
//  2. top-k (0 < k < F): the k-th largest x, found as a threshold on the order-preserving u32 key of
//     x: each pass counts, for 7 probe keys splitting the current interval into 8, how many entries
//     are >= the probe (one read of the row per pass, ~log8(2^32) passes at most), and stops early
//     when exactly one entry is left between the bounds. Ties at the threshold are all kept.
//  3. top-p (p < 1): the same search for the largest threshold whose kept mass sum(exp(x - M)) is
//     >= p times the mass kept by top-k: the smallest set of most probable tokens reaching p.
//  4. a draw: lanes own contiguous chunks; with the kept mass per chunk and an exclusive prefix
//     over lanes, the lane whose range holds u * total walks its chunk to the token.
// u = hash(seed, row) in [0, 1) with 24 random bits: deterministic for a seed (the reference in
// src/reference/sampling.ts computes the same u). A row with no finite entry gives token 0.
// Limits: n * W < 2^24 tokens per row (counts are exact f32); rows <= 65535^2 (2-D grid).

const LOWEST = -3.4028234663852886e38;
const PROBES = 7u;

struct Params {
  n: u32,
  rows: u32,
  grid_x: u32,
  mask_row: u32,
  inv_temp: f32,
  top_k: u32,
  top_p: f32,
  seed: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<V>;
@group(0) @binding(2) var<storage, read> mask: array<V>;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;

fn load(row: u32, j: u32) -> vec4<f32> {
  var v = logits[row * params.n + j];
  if (MASKED) {
    v += mask[row * params.mask_row + j];
  }
  return vec4<f32>(v);
}

/** Monotone map of f32 onto u32: a < b exactly when key(a) < key(b). */
fn key(f: f32) -> u32 {
  let b = bitcast<u32>(f);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn pcg_hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn row_of(wid: vec3<u32>) -> u32 {
  return wid.y * params.grid_x + wid.x;
}

@compute @workgroup_size(WG)
fn argmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wid);
  if (row >= params.rows) { return; }
  var m = LOWEST;
  var best = 0u;
  for (var i = 0u; i < params.n; i += WG) {
    let j = i + lid;
    if (j < params.n) {
      let u = load(row, j);
      for (var c = 0u; c < W; c++) {
        if (u[c] > m) {
          m = u[c];
          best = j * W + c;
        }
      }
    }
  }
  let row_m = row_max(m, lid);
  let first = row_min_index(select(params.n * W, best, m == row_m), lid);
  if (lid == 0u) {
    tokens[row] = select(0u, first, first < params.n * W);
  }
}

// ---- sampling -------------------------------------------------------------------------------

struct Chunk {
  start: u32,
  len: u32,
  /** Chunks per lane: the same for every lane, so loops over it have a lane-uniform counter. */
  per_lane: u32,
}

/** This lane's contiguous chunk of the row, in V units. */
fn lane_chunk(lid: u32) -> Chunk {
  let per_lane = (params.n + WG - 1u) / WG;
  let start = min(lid * per_lane, params.n);
  return Chunk(start, min(per_lane, params.n - start), per_lane);
}

/** Entries x >= t for each probe key t: counts and masses exp(x - row_max), summed over the row. */
struct ProbeSums {
  count: array<f32, PROBES>,
  mass: array<f32, PROBES>,
}

fn probe_sums(row: u32, lid: u32, probes: array<u32, PROBES>, row_m: f32) -> ProbeSums {
  var count = array<f32, PROBES>();
  var mass = array<f32, PROBES>();
  let chunk = lane_chunk(lid);
  for (var i = 0u; i < chunk.per_lane; i++) {
    if (i < chunk.len) {
      let u = load(row, chunk.start + i) * params.inv_temp;
      for (var c = 0u; c < W; c++) {
        let k = key(u[c]);
        let e = exp(u[c] - row_m);
        for (var p = 0u; p < PROBES; p++) {
          let kept = k >= probes[p];
          count[p] += select(0.0, 1.0, kept);
          mass[p] += select(0.0, e, kept);
        }
      }
    }
  }
  // 14 sums in 4 vec4 reductions
  let c_lo = row_sum4(vec4<f32>(count[0], count[1], count[2], count[3]), lid);
  let c_hi = row_sum4(vec4<f32>(count[4], count[5], count[6], 0.0), lid);
  let m_lo = row_sum4(vec4<f32>(mass[0], mass[1], mass[2], mass[3]), lid);
  let m_hi = row_sum4(vec4<f32>(mass[4], mass[5], mass[6], 0.0), lid);
  return ProbeSums(
    array<f32, PROBES>(c_lo.x, c_lo.y, c_lo.z, c_lo.w, c_hi.x, c_hi.y, c_hi.z),
    array<f32, PROBES>(m_lo.x, m_lo.y, m_lo.z, m_lo.w, m_hi.x, m_hi.y, m_hi.z),
  );
}

/** Keep the entries whose key is >= `key`: `count` of them, with mass `mass`. */
struct Threshold {
  key: u32,
  count: f32,
  mass: f32,
}

/**
 * The largest key t with count(x >= t) >= need_count and mass(x >= t) >= need_mass, from `start`
 * (where both hold) and `top` (where nothing is left).
 */
fn search(row: u32, lid: u32, row_m: f32, need_count: f32, need_mass: f32, start: Threshold, top: u32) -> Threshold {
  var lo = start;
  var hi = top;
  var hi_count = 0.0;
  // Every value steering this loop comes from row reductions, so all lanes take the same path.
  // It ends when no key lies strictly between the bounds or one entry is left between them.
  while (hi - lo.key > 1u && lo.count - hi_count > 1.0) {
    let span = hi - lo.key;
    let step = span / (PROBES + 1u);
    var probes = array<u32, PROBES>();
    for (var p = 0u; p < PROBES; p++) {
      probes[p] = select(lo.key + min(p + 1u, span - 1u), lo.key + step * (p + 1u), step > 0u);
    }
    let sums = probe_sums(row, lid, probes, row_m);
    for (var p = 0u; p < PROBES; p++) {
      if (sums.count[p] >= need_count && sums.mass[p] >= need_mass) {
        if (probes[p] > lo.key) {
          lo = Threshold(probes[p], sums.count[p], sums.mass[p]);
        }
      } else if (probes[p] < hi) {
        hi = probes[p];
        hi_count = sums.count[p];
      }
    }
  }
  return lo;
}

@compute @workgroup_size(WG)
fn sample(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wid);
  if (row >= params.rows) { return; }
  let chunk = lane_chunk(lid);

  // 1. max and number of finite entries, then the total mass
  var m = LOWEST;
  var finite = 0.0;
  for (var i = 0u; i < chunk.per_lane; i++) {
    if (i < chunk.len) {
      let u = load(row, chunk.start + i) * params.inv_temp;
      for (var c = 0u; c < W; c++) {
        m = max(m, u[c]);
        finite += select(0.0, 1.0, u[c] >= LOWEST);
      }
    }
  }
  let row_m = row_max(m, lid);
  let row_finite = row_sum(finite, lid);
  if (row_finite == 0.0) {
    if (lid == 0u) { tokens[row] = 0u; }
    return;
  }
  var mass = 0.0;
  for (var i = 0u; i < chunk.per_lane; i++) {
    if (i < chunk.len) {
      let u = load(row, chunk.start + i) * params.inv_temp;
      for (var c = 0u; c < W; c++) {
        mass += exp(u[c] - row_m);
      }
    }
  }
  let top = key(row_m) + 1u; // no entry is at or above it
  var kept = Threshold(key(LOWEST), row_finite, row_sum(mass, lid));

  // 2. top-k, 3. top-p within what top-k kept
  if (params.top_k > 0u && f32(params.top_k) < row_finite) {
    kept = search(row, lid, row_m, f32(params.top_k), 0.0, kept, top);
  }
  if (params.top_p < 1.0) {
    kept = search(row, lid, row_m, 0.0, params.top_p * kept.mass, kept, top);
  }

  // 4. the draw: kept mass per chunk; the lane whose prefix range holds the goal walks its chunk
  var chunk_mass = 0.0;
  for (var i = 0u; i < chunk.per_lane; i++) {
    if (i < chunk.len) {
      let u = load(row, chunk.start + i) * params.inv_temp;
      for (var c = 0u; c < W; c++) {
        chunk_mass += select(0.0, exp(u[c] - row_m), key(u[c]) >= kept.key);
      }
    }
  }
  let below = row_exclusive_sum(chunk_mass, lid);
  let total = row_sum(chunk_mass, lid);
  let draw = f32(pcg_hash(params.seed ^ pcg_hash(row)) >> 8u) / 16777216.0;
  let goal = draw * total;
  // Prefixes grow with the lane index: the last lane with kept mass whose prefix is at or below the
  // goal owns it (robust to rounding gaps between one lane's end and the next one's prefix).
  let owns = chunk_mass > 0.0 && below <= goal;
  let owner = WG - 1u - row_min_index(select(WG, WG - 1u - lid, owns), lid);
  if (lid == owner) {
    var acc = below;
    var token = 0u;
    var found = false;
    for (var i = 0u; i < chunk.len && !found; i++) {
      let u = load(row, chunk.start + i) * params.inv_temp;
      for (var c = 0u; c < W; c++) {
        if (!found && key(u[c]) >= kept.key) {
          token = (chunk.start + i) * W + c; // stays the last kept entry if rounding leaves acc short
          acc += exp(u[c] - row_m);
          found = acc > goal;
        }
      }
    }
    tokens[row] = token;
  }
}
