/**
 * A second-level address translation for one TD: guest frame number to host physical address.
 * The TDX module implements it for private memory (secure EPT); KVM implements it for shared
 * memory (the shared EPT it owns).
 */
export interface Ept {
  /**
   * Translates a guest frame number (GPA >> 12, without the shared bit).
   * @returns the host physical address of the 4 KiB page, or -1 if the access must fault
   *   (EPT violation) because the page is not mapped, not accepted, or blocked.
   */
  translate(gfn: number, write: boolean): number;
}
