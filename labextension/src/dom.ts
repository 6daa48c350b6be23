/** Small DOM helpers shared by the CoSim panels. */

/** A new element with a class and, optionally, its text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** What to show a user for a caught error: its message, never a stack. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
