/**
 * Saving bytes the engine produced (panel PNGs, figure sheets, tensors, eval
 * reports) as a download. Works the same in a browser and in Electron
 * (which shows its save dialog), so no host API is needed.
 */

export function safeFileName(name: string): string {
  return name.replace(/[\\/]+/g, '__').replace(/[^\w.-]+/g, '_') || 'file';
}

export function downloadBytes(name: string, bytes: Uint8Array | string, mime = 'application/octet-stream'): void {
  const blob = new Blob([bytes as BlobPart], { type: mime });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = safeFileName(name);
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A canvas (or a rendered SVG element) as PNG bytes. */
export async function canvasPng(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('Could not encode the picture as PNG');
  return new Uint8Array(await blob.arrayBuffer());
}

/** Rasterises an <svg> element (self-contained: inline styles only) to PNG bytes at `scale`. */
export async function svgToPng(svg: SVGSVGElement, scale = 2): Promise<Uint8Array> {
  const text = svgText(svg);
  const width = svg.viewBox.baseVal?.width || svg.clientWidth;
  const height = svg.viewBox.baseVal?.height || svg.clientHeight;
  const url = URL.createObjectURL(new Blob([text], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('No 2D canvas');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return await canvasPng(canvas);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The SVG's markup with the namespace a standalone file needs. */
export function svgText(svg: SVGSVGElement): string {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(clone)}`;
}
