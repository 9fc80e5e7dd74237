/**
 * The Features view: look inside both encoders, layer by layer. A layer
 * browser and the study's knobs (timestep scrubber 10…500 with its presets,
 * guidance on features) on the left; on the right, engine-rendered panels:
 * the image beside CLIP's patch PCA and the tap's PCA, the question's
 * effect (cond, uncond, cond − uncond), the per-word cross-attention strip,
 * and correspondence — click a point in image A and see, for CLIP and for
 * the tap, the cosine-similarity map over image B (or A alone) with the best
 * match marked, plus the pair's similarity numbers in two-image mode.
 * Everything is computed by `visualize` in the engine process; exports are
 * the panel PNGs and a labelled figure sheet (PNG + SVG) or the raw tensors,
 * as the engine writes them for `twinlens export`.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ContractParams, PackInfo, VisualPanel, VisualizeResult } from '../../../shared/contract.js';
import { toTwinLensError } from '../../../shared/errors.js';
import type { Bridge } from '../../bridge/index.js';
import { type UnitPoint, unitToImagePoint } from '../../lib/crop.js';
import { downloadBytes } from '../../lib/download.js';
import { type LoadedImage, loadImageFile } from '../../lib/image-file.js';
import { useVisualize } from '../../state/use-visualize.js';
import { ImageFileInput } from '../ImageFileInput.js';
import { LayerBrowser, type TapShape, orderTaps } from './LayerBrowser.js';
import { PanelImage } from './PanelImage.js';

interface Props {
  bridge: Bridge;
  pack: PackInfo | undefined;
  image: LoadedImage | undefined;
  question: string;
  onImage(file: File): void;
  notify(level: 'info' | 'error', message: string): void;
}

const T_PRESETS = [10, 50, 100, 250, 500];
const SIZE = 256;
const DEBOUNCE_MS = 250;

function defaultTap(pack: PackInfo | undefined): string {
  const taps = pack?.taps ?? [];
  const d = pack?.defaults?.tap;
  if (d && taps.some((t) => t.alias === d && t.available)) return d;
  return orderTaps(taps).find((t) => t.available)?.alias ?? d ?? 'U-L1-R1-B0-Cross-Q';
}

function stem(name: string): string {
  return name.replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_') || 'image';
}

export function FeaturesView({ bridge, pack, image, question, onImage, notify }: Props) {
  const viz = useVisualize(bridge);
  const [tap, setTap] = useState(() => defaultTap(pack));
  const [t, setT] = useState(pack?.defaults?.t ?? 50);
  const [guidance, setGuidance] = useState(pack?.defaults?.guidance ?? 4);
  const [prompt, setPrompt] = useState(question);
  const [pair, setPair] = useState(false);
  const [imageB, setImageB] = useState<LoadedImage>();
  const [point, setPoint] = useState<UnitPoint>();
  const [shapes, setShapes] = useState<Record<string, TapShape>>({});
  const [exporting, setExporting] = useState<string>();
  const inputA = useRef<HTMLInputElement>(null);
  const inputB = useRef<HTMLInputElement>(null);

  // A newly opened pack brings its own taps and defaults.
  useEffect(() => {
    setTap(defaultTap(pack));
    if (pack?.defaults) {
      setT(pack.defaults.t);
      setGuidance(pack.defaults.guidance);
    }
    setShapes({});
  }, [pack?.dir, pack?.name]);

  useEffect(() => setPoint(undefined), [image?.hash]);

  const images = useMemo(() => (image ? [image, ...(pair && imageB ? [imageB] : [])] : []), [image, imageB, pair]);
  const canRun = !!pack?.hasDiffusion && images.length > 0;

  const params = useMemo((): ContractParams['visualize'] | undefined => {
    if (!canRun || !image) return undefined;
    return {
      images: images.map((im) => ({ bytes: im.bytes, name: im.name })),
      prompt,
      taps: [tap],
      diffusion: { t, guidance },
      panels: [
        'image',
        'pca',
        'branches',
        'difference',
        'attention',
        ...(pack?.hasClip ? (['clip'] as const) : []),
        ...(point ? (['correspondence'] as const) : []),
      ],
      size: SIZE,
      ...(point ? { point: unitToImagePoint(image.width, image.height, point, SIZE) } : {}),
    };
  }, [canRun, image, images, prompt, tap, t, guidance, point, pack?.hasClip]);

  // Recompute when anything that changes the maps settles.
  useEffect(() => {
    if (!params) return;
    const timer = setTimeout(() => viz.run(params), DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [params]);

  // Learn tap resolutions and channel counts from what came back.
  useEffect(() => {
    const r = viz.result;
    if (!r) return;
    const found: Record<string, TapShape> = {};
    for (const p of r.panels) {
      if (p.kind === 'pca' && p.source === 'diffusion' && p.tap && p.grid && p.meta?.branch === 'guided')
        found[p.tap] = { ...p.grid, channels: typeof p.meta?.channels === 'number' ? p.meta.channels : undefined };
      if (p.source === 'clip' && p.grid) found.CLIP = { ...p.grid };
    }
    setShapes((s) => ({ ...s, ...found }));
  }, [viz.generation]);

  const exportFiles = async (what: 'sheet' | 'tensors') => {
    if (!params) return;
    setExporting(what);
    try {
      const files: NonNullable<ContractParams['visualize']['files']> =
        what === 'sheet'
          ? pair && imageB
            ? { sheet: 'pair' }
            : { sheet: 'layers-timesteps', timesteps: [...new Set([10, 50, t, 250])].sort((a, b) => a - b).slice(0, 8) }
          : { tensors: ['npy', 'safetensors'] };
      const r = await bridge.call('visualize', { ...params, panels: ['image'], point: undefined, files });
      const chosen = (r.files ?? []).filter((f) => (what === 'sheet' ? /sheet\.(png|svg)$/.test(f.name) : true));
      if (!chosen.length) throw new Error('The engine returned no files');
      const prefix = stem(image?.name ?? 'image');
      for (const f of chosen) downloadBytes(`${prefix}_${tap}_t${t}_${f.name}`, f.bytes, f.mime);
      notify('info', `Saved ${chosen.length} file${chosen.length === 1 ? '' : 's'}: ${chosen.map((f) => f.name).join(', ')}`);
    } catch (e) {
      notify('error', `Export failed: ${toTwinLensError(e).oneLine()}`);
    } finally {
      setExporting(undefined);
    }
  };

  const r = viz.result;
  const name = stem(image?.name ?? 'image');
  const pick = (p: UnitPoint) => setPoint(p);

  return (
    <main className="features" data-testid="features-view" data-status={viz.status} data-generation={viz.generation}>
      <aside className="features-side">
        <section className="features-images">
          <div className="row">
            <button type="button" onClick={() => inputA.current?.click()} data-testid="features-open-a">
              {image ? 'Image A…' : 'Open image…'}
            </button>
            <label className="toggle small" title="MMVP-style pairs: two images, jointly fitted PCA, correspondence from A into B, intra-pair similarity">
              <input type="checkbox" checked={pair} onChange={(e) => setPair(e.currentTarget.checked)} data-testid="pair-mode" /> two images
            </label>
          </div>
          {pair && (
            <button type="button" onClick={() => inputB.current?.click()} data-testid="features-open-b">
              {imageB ? `Image B: ${imageB.name}` : 'Open image B…'}
            </button>
          )}
          <ImageFileInput ref={inputA} testId="features-input-a" onFile={onImage} />
          <ImageFileInput
            ref={inputB}
            testId="features-input-b"
            onFile={(f) =>
              loadImageFile(f).then(
                (img) => {
                  setImageB((old) => {
                    if (old) URL.revokeObjectURL(old.url);
                    return img;
                  });
                },
                (err: Error) => notify('error', err.message),
              )
            }
          />
        </section>
        <label className="features-prompt small">
          SD prompt (the question; empty = unconditional)
          <input
            type="text"
            value={prompt}
            maxLength={2000}
            onChange={(e) => setPrompt(e.currentTarget.value)}
            data-testid="features-prompt"
            placeholder="e.g. what colour is the circle"
          />
        </label>
        <div className="scrubber" title="Timestep of the single UNet pass (study: 50 best, 10–100 good, 500 collapses)">
          <span className="small">
            t = <b data-testid="features-t-value">{t}</b>
          </span>
          <input
            type="range"
            min={10}
            max={500}
            step={1}
            value={t}
            aria-label="timestep scrubber"
            data-testid="features-t"
            onChange={(e) => setT(Number(e.currentTarget.value))}
          />
          <span className="presets">
            {T_PRESETS.map((p) => (
              <button type="button" key={p} className={p === t ? 'chip active' : 'chip'} onClick={() => setT(p)} data-testid={`features-t-${p}`}>
                {p}
              </button>
            ))}
          </span>
        </div>
        <div className="scrubber" title="Guidance on features: f_u + s·(f_c − f_u); 0 = unconditional, 4 in the study's final models">
          <span className="small">
            s = <b data-testid="features-s-value">{guidance}</b>
          </span>
          <input
            type="range"
            min={0}
            max={8}
            step={0.5}
            value={guidance}
            aria-label="guidance slider"
            data-testid="features-s"
            onChange={(e) => setGuidance(Number(e.currentTarget.value))}
          />
        </div>
        <LayerBrowser taps={pack?.taps ?? []} selected={tap} onSelect={setTap} shapes={shapes} />
      </aside>

      <section className="features-main" aria-busy={viz.status === 'loading'}>
        <div className="features-toolbar">
          {viz.status === 'loading' ? (
            <span className="progress" data-testid="features-progress">
              <progress max={Math.max(1, viz.progress?.total ?? 1)} value={viz.progress?.done ?? 0} />
              <span className="small">{viz.progress?.message ?? viz.progress?.stage ?? 'recomputing'}…</span>
              <button type="button" className="link small" onClick={viz.cancel}>
                stop
              </button>
            </span>
          ) : r ? (
            <span className="small muted" data-testid="features-settings">
              {tap} · t = {r.settings.t} · s = {r.settings.guidance} · seed {r.settings.seed} · {Math.round(r.ms)} ms
            </span>
          ) : null}
          <span className="grow" />
          <button
            type="button"
            disabled={!params || !!exporting}
            onClick={() => void exportFiles('sheet')}
            data-testid="export-sheet"
            title={pair && imageB ? 'Pair sheet: A and B × encoders, PNG and SVG' : 'Layers × timesteps sheet (t = 10, 50, 250 and the current t), PNG and SVG'}
          >
            {exporting === 'sheet' ? 'Exporting…' : 'Figure sheet (PNG + SVG)'}
          </button>
          <button
            type="button"
            disabled={!params || !!exporting}
            onClick={() => void exportFiles('tensors')}
            data-testid="export-tensors"
            title="Raw tensors as .npy and .safetensors, each with a JSON sidecar (image hash, pack, tap, t, s, prompt, seed)"
          >
            {exporting === 'tensors' ? 'Exporting…' : 'Tensors'}
          </button>
        </div>
        {!pack?.hasDiffusion && pack && <p className="muted">This pack has no diffusion model: there are no feature maps to show.</p>}
        {!image && <p className="muted">Open an image (or drop one on the window) to see its features.</p>}
        {viz.error && (
          <p className="error-text" data-testid="features-error">
            {viz.error}
          </p>
        )}
        {r && image && (
          <Panels r={r} urls={viz.urls} name={name} point={point} onPick={pick} pair={images.length === 2} tap={tap} onClearPoint={() => setPoint(undefined)} />
        )}
      </section>
    </main>
  );
}

interface PanelsProps {
  r: VisualizeResult;
  urls: Record<string, string>;
  name: string;
  point: UnitPoint | undefined;
  onPick(p: UnitPoint): void;
  onClearPoint(): void;
  pair: boolean;
  tap: string;
}

function Panels({ r, urls, name, point, onPick, onClearPoint, pair, tap }: PanelsProps) {
  const of = (pred: (p: VisualPanel) => boolean) => r.panels.filter(pred);
  const count = Math.max(1, ...r.panels.map((p) => p.image + 1));
  const rows = Array.from({ length: count }, (_, i) => i);
  const show = (p: VisualPanel | undefined, extra: Partial<Parameters<typeof PanelImage>[0]> = {}) =>
    p && <PanelImage key={p.id} panel={p} url={urls[p.id]} exportName={name} {...extra} />;
  const matchFor = (source: string) => r.correspondence?.find((c) => c.source === source);
  return (
    <div className="panels" data-testid="panels">
      <section>
        <h3>Encoders · CLIP patch PCA beside the diffusion PCA</h3>
        {rows.map((i) => (
          <div className="panel-row" key={i}>
            {show(
              of((p) => p.kind === 'image' && p.image === i)[0],
              i === 0 ? { onPick, marker: point, caption: point ? 'point picked · click elsewhere to move it' : 'click a point for correspondence' } : {},
            )}
            {show(of((p) => p.kind === 'pca' && p.source === 'clip' && p.image === i)[0])}
            {show(of((p) => p.kind === 'pca' && p.source === 'diffusion' && p.image === i && p.meta?.branch === 'guided')[0])}
          </div>
        ))}
      </section>
      <section>
        <h3>The question’s effect · conditional, unconditional, cond − uncond</h3>
        {rows.map((i) => (
          <div className="panel-row" key={i}>
            {show(of((p) => p.kind === 'pca' && p.image === i && p.meta?.branch === 'cond')[0])}
            {show(of((p) => p.kind === 'pca' && p.image === i && p.meta?.branch === 'uncond')[0])}
            {show(of((p) => p.kind === 'difference' && p.image === i)[0])}
          </div>
        ))}
      </section>
      <section>
        <h3>Cross-attention per question word</h3>
        {rows.map((i) => {
          const strip = of((p) => p.kind === 'attention' && p.image === i);
          return (
            <div className="panel-row strip" key={i} data-testid={`attention-row-${i}`}>
              {strip.length ? (
                strip.map((p) => show(p, { size: 120 }))
              ) : (
                <span className="muted small">No words in the prompt: type one to see where the UNet attends.</span>
              )}
            </div>
          );
        })}
      </section>
      <section data-testid="correspondence">
        <h3>
          Correspondence {pair ? 'A → B' : 'within the image'}{' '}
          {point && (
            <button type="button" className="link small" onClick={onClearPoint}>
              clear point
            </button>
          )}
        </h3>
        {!point && (
          <p className="muted small">
            Click a point on image A above: its cosine-similarity map over {pair ? 'image B' : 'the image'} is shown for CLIP and for {tap}, best match marked.
          </p>
        )}
        {point && (
          <div className="panel-row">
            {of((p) => p.kind === 'correspondence' && p.source !== 'image').map((p) => {
              const src = p.source === 'clip' ? 'clip' : (p.tap ?? tap);
              const m = matchFor(src);
              return show(p, { caption: m ? `best (${m.row}, ${m.col}) · cosine ${m.score.toFixed(3)}` : undefined });
            })}
          </div>
        )}
        {r.similarity && (
          <table className="similarity" data-testid="similarity">
            <thead>
              <tr>
                <th>encoder</th>
                <th title="mean cosine of matching tokens">token-wise</th>
                <th title="cosine of the mean-pooled features">pooled</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(r.similarity).map(([k, v]) => (
                <tr key={k}>
                  <td>{k === 'clip' ? 'CLIP' : k}</td>
                  <td>{v.tokenwise.toFixed(3)}</td>
                  <td>{v.pooled.toFixed(3)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
