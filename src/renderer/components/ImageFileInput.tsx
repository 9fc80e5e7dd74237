/**
 * The hidden `<input type="file">` behind every "Open image…" button: images
 * only, and it clears itself after each pick so choosing the same file again
 * still fires (a browser fires no change event for an unchanged value).
 */
import type { Ref } from 'react';

export function ImageFileInput({ ref, testId, onFile }: { ref: Ref<HTMLInputElement>; testId: string; onFile: (file: File) => void }) {
  return (
    <input
      ref={ref}
      type="file"
      accept="image/*"
      hidden
      data-testid={testId}
      onChange={(e) => {
        const f = e.currentTarget.files?.[0];
        if (f) onFile(f);
        e.currentTarget.value = '';
      }}
    />
  );
}
