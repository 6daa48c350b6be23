/**
 * Is this browser's WebGL drawn in software (SwiftShader, llvmpipe: no GPU, or a blocklisted
 * one)? There, multisampled antialiasing is the largest part of each frame's cost, and in
 * Chromium's software compositing the page's main thread waits for the whole draw at every
 * frame's commit (it reads the pixels back): measured on a 2-core machine, 4x MSAA took a
 * 866x331 view from about 85 to 170 ms per frame, and frames arriving meanwhile waited for it.
 */

const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software|basic render/i;

let cached: boolean | undefined;

/** Asked once per page; the probe's context is given back at once (browsers cap live ones). */
export function softwareWebGL(): boolean {
  if (cached === undefined) {
    cached = probe();
  }
  return cached;
}

function probe(): boolean {
  const canvas = document.createElement('canvas');
  // Browsers refuse this flag exactly when WebGL would be much slower than native: software.
  const fast = canvas.getContext('webgl2', { failIfMajorPerformanceCaveat: true });
  if (fast) {
    const software = SOFTWARE_RENDERER.test(rendererName(fast));
    release(fast);
    return software;
  }
  const any = canvas.getContext('webgl2');
  if (!any) {
    return false; // no WebGL2 at all: the renderer reports it when it is made
  }
  release(any);
  return true;
}

function rendererName(gl: WebGL2RenderingContext): string {
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
}

function release(gl: WebGL2RenderingContext): void {
  gl.getExtension('WEBGL_lose_context')?.loseContext();
}
