import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PAGE_SIZE } from './abi/vmx.js';
import { cpuError } from './errors.js';

interface Page {
  /** Plaintext as the owner key sees it. */
  readonly data: Uint8Array;
  /** Key id (HKID) the page was last written with; 0 = no key (shared / host memory). */
  keyId: number;
}

/**
 * Host physical memory: sparse 4 KiB pages, allocated on first use, each tagged with the key id
 * (HKID) it was last written with.
 *
 * Memory encryption (MKTME/TDX) is modelled with a real cipher: a page written with key id K
 * reads back as plaintext only with K. Read with any other key id, it returns the AES-128-XTS
 * encryption of the page under K's secret key (tweak = page address), which is what a host
 * mapping without the TD's key would see: ciphertext, never the plaintext. Conversely a host page
 * (key id 0) read through a TD key id comes back "decrypted" with that key: garbage, so the host
 * cannot plant chosen bytes in a TD's view of memory either.
 *
 * Only touched pages take memory; declared size costs nothing.
 */
export class PhysicalMemory {
  /** Size of the physical address space in bytes. */
  readonly size: number;
  readonly #pages = new Map<number, Page>();
  readonly #keys = new Map<number, Buffer>();
  #nextFree: number;
  readonly #freeList: number[] = [];

  /**
   * @param size - bytes of physical address space (default 64 GiB)
   * @param firstAllocatable - lowest address {@link allocPage} hands out (default 1 MiB)
   */
  constructor(size = 64 * 2 ** 30, firstAllocatable = 0x10_0000) {
    this.size = size;
    this.#nextFree = firstAllocatable;
  }

  /** Number of pages that currently hold data. */
  get touchedPages(): number {
    return this.#pages.size;
  }

  /**
   * Allocates one zeroed 4 KiB page (a host kernel page allocator) and returns its address.
   * @throws SEAMKIT_ERR_CPU_BAD_ADDRESS when physical memory is exhausted
   */
  allocPage(): number {
    const reused = this.#freeList.pop();
    if (reused !== undefined) {
      this.#pages.delete(reused / PAGE_SIZE);
      return reused;
    }
    const hpa = this.#nextFree;
    if (hpa + PAGE_SIZE > this.size) throw cpuError('SEAMKIT_ERR_CPU_BAD_ADDRESS', [hpa, 'free page (memory exhausted)']);
    this.#nextFree += PAGE_SIZE;
    return hpa;
  }

  /** Returns a page to the allocator; its contents are discarded. */
  freePage(hpa: number): void {
    this.#checkPage(hpa);
    this.#pages.delete(hpa / PAGE_SIZE);
    this.#freeList.push(hpa);
  }

  /** Key id the page at `hpa` was last written with (0 if never written). */
  keyIdOf(hpa: number): number {
    return this.#pages.get(Math.floor(hpa / PAGE_SIZE))?.keyId ?? 0;
  }

  /**
   * The plaintext bytes of the page holding `hpa`, as the owner key sees them, creating it if
   * needed and tagging it with `keyId`. This is the path the TDX module and the TD use; the
   * view stays valid until the page is freed.
   */
  pageForKey(hpa: number, keyId: number): Uint8Array {
    this.#checkAddr(hpa);
    const pfn = Math.floor(hpa / PAGE_SIZE);
    let page = this.#pages.get(pfn);
    if (page === undefined) {
      page = { data: new Uint8Array(PAGE_SIZE), keyId };
      this.#pages.set(pfn, page);
    } else if (page.keyId !== keyId) {
      // Writing with a new key: the old contents are only garbage to the new key.
      page.data.set(this.#foreignView(pfn, page, keyId));
      page.keyId = keyId;
    }
    return page.data;
  }

  /**
   * Reads `dst.length` bytes at `hpa` through key id `keyId` (0 = host mapping). Bytes of a
   * page owned by another key come back as ciphertext. The range must not cross a page.
   */
  read(hpa: number, dst: Uint8Array, keyId = 0): void {
    this.#checkRange(hpa, dst.length);
    const pfn = Math.floor(hpa / PAGE_SIZE);
    const off = hpa - pfn * PAGE_SIZE;
    const page = this.#pages.get(pfn);
    if (page === undefined) {
      dst.fill(0);
    } else if (page.keyId === keyId) {
      dst.set(page.data.subarray(off, off + dst.length));
    } else {
      dst.set(this.#foreignView(pfn, page, keyId).subarray(off, off + dst.length));
    }
  }

  /** Writes `src` at `hpa` through key id `keyId`. The range must not cross a page. */
  write(hpa: number, src: Uint8Array, keyId = 0): void {
    this.#checkRange(hpa, src.length);
    const page = this.pageForKey(hpa, keyId);
    page.set(src, hpa % PAGE_SIZE);
  }

  /** Zeroes the page at `hpa` and tags it with `keyId` (what MOVDIR64B-style clearing does). */
  clearPage(hpa: number, keyId: number): void {
    this.#checkPage(hpa);
    const pfn = hpa / PAGE_SIZE;
    const page = this.#pages.get(pfn);
    if (page === undefined) {
      this.#pages.set(pfn, { data: new Uint8Array(PAGE_SIZE), keyId });
    } else {
      page.data.fill(0);
      page.keyId = keyId;
    }
  }

  /**
   * What key id `keyId` sees of a page owned by another key id: the memory holds the owner's
   * ciphertext (plaintext for key id 0), and the reader's key "decrypts" it. Never the owner's
   * plaintext: a TD key reading a host page sees garbage too, as the host sees ciphertext of a
   * TD page.
   */
  #foreignView(pfn: number, page: Page, keyId: number): Uint8Array {
    return page.keyId === 0 ? this.#xts(pfn, keyId, page.data, false) : this.#xts(pfn, page.keyId, page.data, true);
  }

  /** AES-128-XTS of one page under the secret key of `keyId` (tweak = page address). */
  #xts(pfn: number, keyId: number, data: Uint8Array, encrypt: boolean): Uint8Array {
    let key = this.#keys.get(keyId);
    if (key === undefined) {
      key = randomBytes(32);
      this.#keys.set(keyId, key);
    }
    const tweak = Buffer.alloc(16);
    tweak.writeUIntLE(pfn * PAGE_SIZE, 0, 6);
    const c = encrypt ? createCipheriv('aes-128-xts', key, tweak) : createDecipheriv('aes-128-xts', key, tweak);
    return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
  }

  #checkAddr(hpa: number): void {
    if (!Number.isSafeInteger(hpa) || hpa < 0 || hpa >= this.size) {
      throw cpuError('SEAMKIT_ERR_CPU_BAD_ADDRESS', [hpa, 'physical address']);
    }
  }

  #checkPage(hpa: number): void {
    this.#checkAddr(hpa);
    if (hpa % PAGE_SIZE !== 0) throw cpuError('SEAMKIT_ERR_CPU_BAD_ADDRESS', [hpa, '4 KiB-aligned page address']);
  }

  #checkRange(hpa: number, len: number): void {
    this.#checkAddr(hpa);
    if ((hpa % PAGE_SIZE) + len > PAGE_SIZE) throw cpuError('SEAMKIT_ERR_CPU_BAD_ADDRESS', [hpa, `range of ${len} bytes inside one page`]);
  }
}

