/**
 * How KVM gives a TD's key and pages back (Linux arch/x86/kvm/vmx/tdx.c: tdx_mmu_release_hkid,
 * tdx_reclaim_page, tdx_reclaim_td_control_pages, the teardown path of __tdx_td_init).
 * @module
 */
import type { LogicalProcessor } from '@seamkit/seam-cpu';
import {
  TDX_INTERRUPTED_RESUMABLE, TDX_NO_HKID_READY_TO_WBCACHE, TDX_SUCCESS,
} from '@seamkit/tdx-module';
import type { Vm } from './Vm.js';

/** One LP of each package, as `for_each_online_cpu` + the package mask pick them. */
function onePerPackage(vm: Vm): LogicalProcessor[] {
  const seen = new Set<number>();
  return vm.kvm.cpu.lps.filter((lp) => (seen.has(lp.packageId) ? false : (seen.add(lp.packageId), true)));
}

/**
 * tdx_mmu_release_hkid: TDH.VP.FLUSH of every initialized vCPU on its LP (errors ignored),
 * TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB on one LP per package (resumed while
 * TDX_INTERRUPTED_RESUMABLE; TDX_NO_HKID_READY_TO_WBCACHE counts as done), TDH.MNG.KEY.FREEID.
 * On success the HKID goes back to KVM's pool and the TD is in TD_TEARDOWN.
 * @returns the first failing status (the HKID is then leaked, as in Linux), or TDX_SUCCESS
 */
export function releaseHkid(vm: Vm): bigint {
  if (!vm.hkidAssigned) return TDX_SUCCESS;
  const h = vm.kvm.host;
  const lp0 = vm.kvm.cpu.lps[0]!;
  // tdx_flush_vp_on_cpu for the vCPUs TDH.VP.INIT associated (errors other than
  // TDX_VCPU_NOT_ASSOCIATED would be a KVM bug; VPFLUSHDONE then refuses and the HKID leaks).
  for (const v of vm.vcpus) if (v.tdvpr >= 0) h.tdhVpFlush(v.lp, v.tdvpr);
  let s = h.tdhMngVpflushdone(lp0, vm.tdr);
  if (s !== TDX_SUCCESS) return s;
  for (const lp of onePerPackage(vm)) {
    s = h.tdhPhymemCacheWb(lp);
    while (s === TDX_INTERRUPTED_RESUMABLE) s = h.tdhPhymemCacheWb(lp, true);
    if (s !== TDX_SUCCESS && s !== TDX_NO_HKID_READY_TO_WBCACHE) return s;
  }
  s = h.tdhMngKeyFreeid(lp0, vm.tdr);
  if (s !== TDX_SUCCESS) return s;
  vm.kvm.freeHkid(vm.hkid);
  vm.hkidAssigned = false;
  return TDX_SUCCESS;
}

/**
 * tdx_reclaim_page: TDH.PHYMEM.PAGE.RECLAIM, then the page is cleared and returned to the host.
 * @returns whether the module released it (a page it refuses is leaked, as in Linux)
 */
export function reclaimPage(vm: Vm, hpa: number): boolean {
  const r = vm.kvm.host.tdhPhymemPageReclaim(vm.kvm.cpu.lps[0]!, hpa);
  if (r.status !== TDX_SUCCESS) return false;
  const mem = vm.kvm.cpu.memory;
  mem.clearPage(hpa, 0);
  mem.freePage(hpa);
  return true;
}

/**
 * Everything after the HKID is released: private pages (reclaimed directly in TD_TEARDOWN, the
 * KVM_TDX_TERMINATE_VM fast path), SEPT pages, each vCPU's TDCX pages and TDVPR, the TDCS pages,
 * the TDR last, then TDH.PHYMEM.PAGE.WBINVD of the TDR keyed with the global key
 * (tdx_reclaim_td_control_pages). Pages the module refuses stay allocated (leaked).
 */
export function reclaimAll(vm: Vm): void {
  const mmu = vm.mmu;
  for (const [gfn, hpa] of mmu.privatePages) if (reclaimPage(vm, hpa)) mmu.privatePages.delete(gfn);
  for (const [key, hpa] of mmu.septPages) if (reclaimPage(vm, hpa)) mmu.septPages.delete(key);
  for (const v of vm.vcpus) {
    v.tdcxPages.splice(0, v.tdcxPages.length, ...v.tdcxPages.filter((p) => !reclaimPage(vm, p)));
    if (v.ownedTdvpr >= 0 && reclaimPage(vm, v.ownedTdvpr)) v.tdvprReclaimed();
  }
  vm.tdcsPages.splice(0, vm.tdcsPages.length, ...vm.tdcsPages.filter((p) => !reclaimPage(vm, p)));
  if (vm.tdr >= 0) {
    const tdr = vm.tdr;
    const r = vm.kvm.host.tdhPhymemPageReclaim(vm.kvm.cpu.lps[0]!, tdr);
    if (r.status === TDX_SUCCESS) {
      const m = vm.kvm.module;
      vm.kvm.host.tdhPhymemPageWbinvd(vm.kvm.cpu.lps[0]!, m.keyedPa(tdr, m.globalHkid));
      vm.kvm.cpu.memory.clearPage(tdr, 0);
      vm.kvm.cpu.memory.freePage(tdr);
      vm.tdr = -1;
    }
  }
}
