/**
 * The image side of the Ask view: a square drop zone showing the center
 * crop the encoders see, the open button, and, when a question word is
 * selected in the attention strip, its cross-attention map over the image.
 * Drag-and-drop and paste are handled window-wide in App; the file input
 * lives here.
 */
import { type RefObject, useEffect, useRef } from 'react';
import { heatCanvas, paintOverlay, tokenMap } from '../lib/heatmap.js';
import type { LoadedImage } from '../lib/image-file.js';
import type { AttentionView } from '../state/use-attention.js';
import { AttentionStrip } from './AttentionStrip.js';
import { ImageFileInput } from './ImageFileInput.js';

interface Props {
  image: LoadedImage | undefined;
  attention: AttentionView;
  showAttention: boolean;
  dragging: boolean;
  fileInput: RefObject<HTMLInputElement | null>;
  onFile(file: File): void;
}

const OVERLAY_PX = 512;

export function ImagePane({ image, attention, showAttention, dragging, fileInput, onFile }: Props) {
  const overlay = useRef<HTMLCanvasElement>(null);
  const { maps, selected } = attention;

  useEffect(() => {
    const canvas = overlay.current;
    if (!canvas) return;
    if (!maps || selected === undefined || !image) {
      canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
      return;
    }
    const cells = maps.height * maps.width;
    paintOverlay(canvas, image.element, heatCanvas(tokenMap(maps.maps, selected, cells), maps.width, maps.height, 0.7), false);
  }, [maps, selected, image]);

  const selectedWord = attention.words.find((w) => w.index === selected);

  return (
    <section className="image-pane" aria-label="Image">
      <div
        className={`image-frame${dragging ? ' dragging' : ''}${image ? '' : ' empty'}`}
        data-testid="image-frame"
        onClick={() => !image && fileInput.current?.click()}
      >
        {image ? (
          <>
            <img src={image.url} alt={image.name} className="image-crop" data-testid="image-preview" />
            <canvas ref={overlay} width={OVERLAY_PX} height={OVERLAY_PX} className="image-overlay" aria-hidden="true" />
            {selectedWord && <span className="overlay-label">“{selectedWord.label}”</span>}
          </>
        ) : (
          <div className="drop-hint">
            <strong>Drop an image here</strong>
            <span>or paste it, or click to choose a file</span>
          </div>
        )}
      </div>
      <div className="image-meta">
        <button type="button" onClick={() => fileInput.current?.click()} data-testid="open-image">
          Open image…
        </button>
        {image && (
          <span className="muted" title="The encoders see this square center crop">
            {image.name} · {image.width}×{image.height}
          </span>
        )}
        <ImageFileInput ref={fileInput} testId="image-input" onFile={onFile} />
      </div>
      {showAttention && image && <AttentionStrip image={image} attention={attention} />}
    </section>
  );
}
