/**
 * "What did the diffusion model look at": one small tile per word of the
 * prompt the UNet saw, its cross-attention map (averaged over heads and
 * layers) painted over the image. Clicking a tile shows it large over the
 * main image; clicking again clears it.
 */
import { useEffect, useRef } from 'react';
import type { CrossAttentionMaps } from '../../shared/contract.js';
import { heatCanvas, paintOverlay, tokenMap } from '../lib/heatmap.js';
import type { LoadedImage } from '../lib/image-file.js';
import type { AttentionView, AttentionWord } from '../state/use-attention.js';

const TILE_PX = 72;

function Tile({ image, maps, word, active, onClick }: { image: LoadedImage; maps: CrossAttentionMaps; word: AttentionWord; active: boolean; onClick(): void }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const heat = heatCanvas(tokenMap(maps.maps, word.index, maps.width * maps.height), maps.width, maps.height);
    paintOverlay(ref.current, image.element, heat);
  }, [image, maps, word]);
  return (
    <button
      type="button"
      className={`attn-tile${active ? ' active' : ''}`}
      onClick={onClick}
      title={`Cross-attention for “${word.label}”`}
      aria-pressed={active}
    >
      <canvas ref={ref} width={TILE_PX} height={TILE_PX} />
      <span>{word.label}</span>
    </button>
  );
}

export function AttentionStrip({ image, attention }: { image: LoadedImage; attention: AttentionView }) {
  const { status, maps, words, selected, select, error, prompt } = attention;
  return (
    <section className="attention" aria-label="Cross-attention per word" data-testid="attention-strip">
      <header>
        <h3>What the diffusion model looked at</h3>
        {maps && (
          <span className="muted">
            {maps.height}×{maps.width} · {maps.layers.length} layer{maps.layers.length === 1 ? '' : 's'}
          </span>
        )}
      </header>
      {status === 'idle' && <p className="muted">Ask a question to see a map per word.</p>}
      {status === 'loading' && <p className="muted">Computing cross-attention…</p>}
      {status === 'error' && <p className="error-text">{error}</p>}
      {status === 'done' && words.length === 0 && (
        <p className="muted">{prompt?.trim() ? 'No words to show for this prompt.' : 'The prompt is empty (prompt source “empty”): nothing to attend to.'}</p>
      )}
      {status === 'done' && maps && words.length > 0 && (
        <div className="attn-tiles">
          {words.map((w) => (
            <Tile
              key={w.index}
              image={image}
              maps={maps}
              word={w}
              active={selected === w.index}
              onClick={() => select(selected === w.index ? undefined : w.index)}
            />
          ))}
        </div>
      )}
    </section>
  );
}
