// Node checker for the fixture packs (run by training/twinlens_train/fixtures/verify.py).
// Loads every ONNX file in onnxruntime-node with the stated input dtypes and
// compares against the PyTorch goldens. Exit code 1 on any failure.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');
const { Tokenizer } = require('@huggingface/tokenizers');
const { Template } = require('@huggingface/jinja');

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let failures = 0;
function report(ok, what, detail = '') {
  if (!ok) failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ' ' + detail : ''}`);
}

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/
    .exec(header)[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const bytes = buf.subarray(start + hlen);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const T = { '<f4': Float32Array, '<f2': Uint16Array, '<i8': BigInt64Array, '<i4': Int32Array }[descr];
  return { dtype: descr, shape, data: new T(ab) };
}

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
const toF32 = (t) => (t.type === 'float16' ? Float32Array.from(t.data, halfToFloat) : t.data);

function compare(what, got, want, atol, rtol) {
  if (got.length !== want.length) return report(false, what, `length ${got.length} vs ${want.length}`);
  let maxAbs = 0,
    bad = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    maxAbs = Math.max(maxAbs, d);
    if (!(d <= atol + rtol * Math.abs(want[i]))) bad++;
  }
  report(bad === 0, what, `max|diff|=${maxAbs.toExponential(2)} (atol ${atol}, rtol ${rtol}, n=${got.length}${bad ? `, ${bad} out` : ''})`);
}

// [b,HW,C] -> row b; [b,C,H,W] -> [HW, C]
function tapRow(t, row) {
  const d = t.dims,
    x = toF32(t);
  if (d.length === 3) return x.slice(row * d[1] * d[2], (row + 1) * d[1] * d[2]);
  const [, C, H, W] = d,
    HW = H * W,
    out = new Float32Array(HW * C);
  for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) out[p * C + c] = x[row * C * HW + c * HW + p];
  return out;
}
const guided = (u, c, s) => u.map((v, i) => v + s * (c[i] - v));

const f32 = (arr, dims) => new ort.Tensor('float32', arr, dims);
const golden = (dir, name) => readNpy(path.join(dir, 'golden', name));

async function sess(p) {
  return ort.InferenceSession.create(p, { graphOptimizationLevel: 'all' });
}
function sig(s) {
  const m = (xs) => xs.map((x) => `${x.name}:${x.type}[${x.shape}]`).join(', ');
  return `in(${m(s.inputMetadata)}) out(${m(s.outputMetadata)})`;
}

async function checkDiffusion(name, entry) {
  const dir = entry.dir;
  const g = JSON.parse(fs.readFileSync(path.join(dir, 'golden/golden.json'), 'utf8'));
  const man = JSON.parse(fs.readFileSync(path.join(dir, 'pack.json'), 'utf8'));
  const tol = g.tolerances;
  // VAE
  const vae = await sess(path.join(dir, man.diffusion.vaeEncoder.path));
  console.log(`${name} vae_encoder ${sig(vae)}`);
  const vs = readNpy(path.join(plan.tmp, 'vae_sample.npy'));
  const lat = (await vae.run({ sample: f32(vs.data, vs.shape) })).latent_sample;
  compare(
    `${name} vae latent*scale`,
    lat.data.map((v) => v * man.diffusion.latentScale),
    golden(dir, 'vae_latent.npy').data,
    tol.vae_latent.atol,
    tol.vae_latent.rtol,
  );
  // text encoder
  const te = await sess(path.join(dir, man.diffusion.textEncoder.path));
  console.log(`${name} text_encoder ${sig(te)}`);
  const idsType = te.inputMetadata[0].type;
  const ids = [...g.prompt_ids.uncond, ...g.prompt_ids.cond];
  const idsT =
    idsType === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [2, ids.length / 2])
      : new ort.Tensor('int32', Int32Array.from(ids), [2, ids.length / 2]);
  const teOut = await te.run({ input_ids: idsT });
  compare(
    `${name} text_encoder last_hidden_state (${idsType} ids)`,
    teOut.last_hidden_state.data,
    golden(dir, 'text_hidden.npy').data,
    tol.text_hidden.atol,
    tol.text_hidden.rtol,
  );
  // shipped UNet: signature only
  const shipped = await sess(path.join(dir, man.diffusion.unet.path));
  console.log(`${name} unet ${sig(shipped)}`);
  report(JSON.stringify(shipped.outputNames) === '["out_sample"]', `${name} shipped unet has only out_sample`);
  // augmented UNet with taps
  const unet = await sess(entry.aug_unet);
  const noisy = golden(dir, 'noisy_latent.npy').data;
  const th = golden(dir, 'text_hidden.npy');
  const n = noisy.length;
  let feeds;
  if (entry.fp16) {
    const s16 = readNpy(path.join(plan.tmp, name, 'noisy_latent_f16.npy')).data;
    const e16 = readNpy(path.join(plan.tmp, name, 'text_hidden_f16.npy')).data;
    const sample = new Uint16Array(2 * n);
    sample.set(s16, 0);
    sample.set(s16, n);
    feeds = {
      sample: new ort.Tensor('float16', sample, [2, 4, 16, 16]),
      timestep: new ort.Tensor('float16', Uint16Array.from([0x5240]), [1]), // 50.0
      encoder_hidden_states: new ort.Tensor('float16', e16, th.shape),
    };
  } else {
    const sample = new Float32Array(2 * n);
    sample.set(noisy, 0);
    sample.set(noisy, n);
    feeds = {
      sample: f32(sample, [2, 4, 16, 16]),
      timestep: new ort.Tensor('int64', BigInt64Array.from([50n]), [1]),
      encoder_hidden_states: f32(th.data, th.shape),
    };
  }
  const out = await unet.run(feeds);
  compare(
    `${name} shipped unet out_sample`,
    toF32((await shipped.run(feeds)).out_sample),
    golden(dir, 'out_sample.npy').data,
    tol.out_sample.atol,
    tol.out_sample.rtol,
  );
  compare(`${name} unet out_sample`, toF32(out.out_sample), golden(dir, 'out_sample.npy').data, tol.out_sample.atol, tol.out_sample.rtol);
  for (const [alias, t] of Object.entries(g.taps)) {
    const tensor = out[t.onnx_tensor];
    if (!tensor) {
      report(false, `${name} tap ${alias}: ${t.onnx_tensor} not produced`);
      continue;
    }
    const u = tapRow(tensor, 0),
      c = tapRow(tensor, 1);
    compare(
      `${name} tap ${alias} guided (${t.onnx_tensor}, ${tensor.type}[${tensor.dims}])`,
      guided(u, c, g.guidance),
      golden(dir, t.guided).data,
      tol.taps.atol,
      tol.taps.rtol,
    );
    if (t.cond) compare(`${name} tap ${alias} cond`, c, golden(dir, t.cond).data, tol.taps.atol, tol.taps.rtol);
    if (t.uncond) compare(`${name} tap ${alias} uncond`, u, golden(dir, t.uncond).data, tol.taps.atol, tol.taps.rtol);
  }
  for (const [alias, tn] of Object.entries(entry.study_taps)) report(!!out[tn], `${name} study tap ${alias} -> ${tn} dims [${out[tn]?.dims}]`);
  if (g.cross_attention) {
    const xa = g.cross_attention,
      p = out[xa.onnx_tensor];
    const [BH, HW, L] = p.dims,
      heads = xa.heads;
    const map = new Float32Array(L * HW);
    for (let h = 0; h < heads; h++)
      for (let q = 0; q < HW; q++) for (let k = 0; k < L; k++) map[k * HW + q] += p.data[((1 * heads + h) * HW + q) * L + k] / heads;
    report(BH === 2 * heads, `${name} softmax dims [${p.dims}] = [batch*heads, HW, L]`);
    compare(`${name} cross-attention map ${xa.layer}`, map, golden(dir, xa.file).data, tol.cross_attention.atol, tol.cross_attention.rtol);
  }
  if (!entry.fp16) {
    // end to end: ORT VAE latent -> noise (golden eps) -> ORT UNet, against the torch goldens
    const a = g.alphas_cumprod_t,
      eps = golden(dir, 'noise.npy').data;
    const x0 = Float32Array.from(lat.data, (v) => v * man.diffusion.latentScale);
    const xt = Float32Array.from(x0, (v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * eps[i]);
    compare(`${name} end-to-end noisy latent`, xt, noisy, tol.noisy_latent.atol, tol.noisy_latent.rtol);
    const sample = new Float32Array(2 * n);
    sample.set(xt, 0);
    sample.set(xt, n);
    const o2 = await unet.run({ ...feeds, sample: f32(sample, [2, 4, 16, 16]), encoder_hidden_states: f32(teOut.last_hidden_state.data, th.shape) });
    for (const [alias, t] of Object.entries(g.taps)) {
      const tensor = o2[t.onnx_tensor];
      compare(
        `${name} end-to-end tap ${alias} guided`,
        guided(tapRow(tensor, 0), tapRow(tensor, 1), g.guidance),
        golden(dir, t.guided).data,
        tol.taps_end_to_end.atol,
        tol.taps_end_to_end.rtol,
      );
    }
  }
  // CLIP
  const clip = await sess(entry.aug_clip);
  const shippedClip = await sess(path.join(dir, man.clip.vision.path));
  console.log(`${name} clip ${sig(shippedClip)}`);
  const pv = golden(dir, g.clip.pixel_values);
  const co = await clip.run({ pixel_values: f32(pv.data, pv.shape) });
  const pen = co[g.clip.onnx_tensor];
  const so = await shippedClip.run({ pixel_values: f32(pv.data, pv.shape) });
  compare(`${name} clip last_hidden_state`, so.last_hidden_state.data, golden(dir, g.clip.last_hidden_state).data, tol.clip.atol, tol.clip.rtol);
  compare(`${name} clip image_embeds`, so.image_embeds.data, golden(dir, g.clip.image_embeds).data, tol.clip.atol, tol.clip.rtol);
  compare(
    `${name} clip penultimate (${g.clip.onnx_tensor}) CLS dropped`,
    pen.data.slice(pen.dims[2]),
    golden(dir, g.clip.penultimate).data,
    tol.clip.atol,
    tol.clip.rtol,
  );
  return { g, man };
}

async function runLlm(embed, dec, cfg, ids, visual, visPos, maxNew, eos) {
  // embeds of the expanded prompt, visual rows overwritten
  const e = (await embed.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) })).inputs_embeds;
  const H = e.dims[2];
  const x = Float32Array.from(e.data);
  if (visual) x.set(visual, visPos * H);
  const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, cfg.numKvHeads, 0, cfg.headDim]);
  const step = async (embeds, s, past, pastLen) => {
    const feeds = {
      inputs_embeds: f32(embeds, [1, s, H]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLen + s).fill(1n), [1, pastLen + s]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: s }, (_, i) => BigInt(pastLen + i)),
        [1, s],
      ),
    };
    for (let i = 0; i < cfg.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = past ? past[`present.${i}.key`] : empty();
      feeds[`past_key_values.${i}.value`] = past ? past[`present.${i}.value`] : empty();
    }
    return dec.run(feeds);
  };
  const lastLogits = (o) => {
    const [, s, V] = o.logits.dims;
    return o.logits.data.slice((s - 1) * V, s * V);
  };
  const argmax = (a) => a.reduce((bi, v, i, arr) => (v > arr[bi] ? i : bi), 0);
  let o = await step(x, ids.length, null, 0);
  const gen = [],
    cached = [lastLogits(o)];
  let seq = Float32Array.from(x),
    len = ids.length;
  for (let t = 0; t < maxNew; t++) {
    const next = argmax(cached[cached.length - 1]);
    gen.push(next);
    if (next === eos || t === maxNew - 1) break;
    const ne = (await embed.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from([BigInt(next)]), [1, 1]) })).inputs_embeds.data;
    o = await step(ne, 1, o, len);
    len += 1;
    const s2 = new Float32Array(seq.length + H);
    s2.set(seq);
    s2.set(ne, seq.length);
    seq = s2;
    cached.push(lastLogits(o));
  }
  return { gen, cached, seq, H, step, lastLogits };
}

async function checkLlm(dir, g, man) {
  const L = man.llm;
  const embed = await sess(path.join(dir, L.embedTokens.path));
  const dec = await sess(path.join(dir, L.decoder.path));
  console.log(`tiny llm embed_tokens ${sig(embed)}`);
  console.log(`tiny llm decoder ${sig(dec)}`);
  const tok = new Tokenizer(
    JSON.parse(fs.readFileSync(path.join(dir, L.tokenizer), 'utf8')),
    JSON.parse(fs.readFileSync(path.join(dir, L.tokenizerConfig), 'utf8')),
  );
  const eos = tok.token_to_id('</s>'),
    img = tok.token_to_id('<image>');
  // projectors
  const proj = {};
  const projector = async (p) => (proj[p] ??= await sess(path.join(dir, p)));
  const clipF = golden(dir, g.clip.penultimate),
    diffF = golden(dir, g.taps['U-L1-R1-B0-Cross-Q'].guided);
  for (const [id, mode] of Object.entries(man.modes)) {
    const gm = g.modes[id];
    let vis;
    if (mode.fusion === 'cross-attention') {
      const s = await projector((mode.projectors.xattn ?? mode.projectors.fused).path); // fixtures made before the rename say "fused"
      if (id === 'fused-xattn') console.log(`tiny projector fused ${sig(s)}`);
      vis = (await s.run({ clip_features: f32(clipF.data, [1, ...clipF.shape]), diffusion_features: f32(diffF.data, [1, ...diffF.shape]) })).embeds.data;
    } else {
      const parts = [];
      for (const k of ['clip', 'diffusion']) {
        if (!mode.inputs.includes(k)) continue;
        const s = await projector(mode.projectors[k].path);
        const F = k === 'clip' ? clipF : diffF;
        parts.push((await s.run({ features: f32(F.data, [1, ...F.shape]) })).embeds.data);
      }
      vis = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) {
        vis.set(p, o);
        o += p.length;
      }
    }
    compare(`tiny mode ${id} visual embeds`, vis, golden(dir, gm.visual_embeds).data, g.tolerances.visual_embeds.atol, g.tolerances.visual_embeds.rtol);
    // prompt
    const text = new Template(L.chatTemplate ?? JSON.parse(fs.readFileSync(path.join(dir, L.tokenizerConfig), 'utf8')).chat_template).render({
      messages: [{ role: 'user', content: '<image>\n' + gm.question }],
      bos_token: '<s>',
      eos_token: '</s>',
      add_generation_prompt: true,
    });
    const base = tok.encode(text, { add_special_tokens: false }).ids;
    report(JSON.stringify(base) === JSON.stringify(gm.prompt_ids), `tiny mode ${id} prompt ids (JS tokenizer + jinja)`);
    const pos = base.indexOf(img);
    const ids = [...base.slice(0, pos), ...Array(gm.num_visual_tokens).fill(img), ...base.slice(pos + 1)];
    // golden visual embeds are used so that token checks are independent of projector tolerance
    const r = await runLlm(embed, dec, L, ids, golden(dir, gm.visual_embeds).data, pos, 8, eos);
    report(
      JSON.stringify(r.gen) === JSON.stringify(gm.generated_ids),
      `tiny mode ${id} greedy ids ${JSON.stringify(r.gen)} vs golden ${JSON.stringify(gm.generated_ids)}`,
    );
    const decoded = tok.decode(r.gen, { skip_special_tokens: true });
    report(decoded === gm.text, `tiny mode ${id} decoded text ${JSON.stringify(decoded)}`);
    if (id === 'clip' || id === 'fused') {
      // KV cache vs full recompute: prefill (past 0) + decode steps with the cache
      let maxd = 0;
      const n0 = ids.length;
      for (let k = 1; k < Math.min(4, r.cached.length); k++) {
        const s = n0 + k;
        const full = await r.step(r.seq.slice(0, s * r.H), s, null, 0);
        const a = r.lastLogits(full),
          b = r.cached[k];
        for (let i = 0; i < a.length; i++) maxd = Math.max(maxd, Math.abs(a[i] - b[i]));
      }
      report(maxd < 1e-4 && r.cached.length >= 4, `tiny mode ${id} KV-cache decode (3 steps) vs no-cache recompute`, `max|diff|=${maxd.toExponential(2)}`);
    }
  }
}

function checkTokenizers() {
  for (const [kind, t] of Object.entries(plan.tokenizers)) {
    const json = JSON.parse(fs.readFileSync(t.path, 'utf8'));
    const cfgPath = path.join(path.dirname(t.path), 'tokenizer_config.json');
    const tok = new Tokenizer(json, JSON.parse(fs.readFileSync(cfgPath, 'utf8')));
    let bad = 0;
    for (const c of t.cases) {
      const ids = tok.encode(c.text, { add_special_tokens: c.add_special_tokens }).ids;
      const dec = ids.length ? tok.decode(ids, { skip_special_tokens: true }) : '';
      if (JSON.stringify(ids) !== JSON.stringify(c.ids) || dec !== c.decoded) {
        bad++;
        console.log(
          `  ${kind} ${JSON.stringify(c.text)} special=${c.add_special_tokens}: JS ${JSON.stringify(ids)} ${JSON.stringify(dec)} vs Py ${JSON.stringify(c.ids)} ${JSON.stringify(c.decoded)}`,
        );
      }
    }
    report(bad === 0, `${kind} tokenizer: JS ids/decode == Python reference on ${t.cases.length} cases`);
  }
  const cfg = JSON.parse(fs.readFileSync(path.join(path.dirname(plan.tokenizers.llm.path), 'tokenizer_config.json'), 'utf8'));
  const r = new Template(cfg.chat_template).render({ messages: plan.chat.messages, bos_token: cfg.bos_token, add_generation_prompt: true });
  report(r === plan.chat.expected, `chat template (jinja) == Python render_chat`, JSON.stringify(r));
}

(async () => {
  checkTokenizers();
  for (const [name, entry] of Object.entries(plan.packs)) {
    const { g, man } = await checkDiffusion(name, entry);
    if (man.llm) await checkLlm(entry.dir, g, man);
  }
  console.log(failures ? `${failures} check(s) FAILED` : 'all checks passed');
  process.exit(failures ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
