#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the PCI topologies of tests/test_p2p.c as libpci dump files
(`lspci -xxx` format; `lspci -xxxx`, 4096 bytes, for functions with an
ACS extended capability). Run from tests/data; the dumps are committed,
this is how their bytes were made. Check one with `lspci -F FILE -tvvv`.

Every bridge is a type 1 header with primary/secondary/subordinate bus
numbers and a PCI Express capability at 0x40 (ports: 4 root, 5 switch
upstream, 6 switch downstream; 0 endpoint); status has the capability
list bit. ACS sits at 0x100 (header 0x0001000d: id 0x0d, version 1, no
next), capability register 0x1f (SV, TB, RR, CR, UF), control as given.
"""

INTEL, TI, REDHAT = 0x8086, 0x104C, 0x1B36
HOST = dict(vendor=INTEL, device=0x29C0, cls=(0x06, 0x00, 0x00))


def rp(bus, sec, sub, acs=None):
    return dict(vendor=INTEL, device=0x3420, cls=(0x06, 0x04, 0x00),
                bus=(bus, sec, sub), port=4, acs=acs)


def up(bus, sec, sub, acs=None):
    return dict(vendor=TI, device=0x8232, cls=(0x06, 0x04, 0x00),
                bus=(bus, sec, sub), port=5, acs=acs)


def down(bus, sec, sub, acs=None):
    return dict(vendor=TI, device=0x8233, cls=(0x06, 0x04, 0x00),
                bus=(bus, sec, sub), port=6, acs=acs)


def nvme(acs=None):
    return dict(vendor=REDHAT, device=0x0010, cls=(0x01, 0x08, 0x02),
                port=0, acs=acs)


def config(f):
    acs = f.get("acs")
    c = bytearray(4096 if acs is not None else 256)
    c[0:2] = f["vendor"].to_bytes(2, "little")
    c[2:4] = f["device"].to_bytes(2, "little")
    c[4:6] = (0x0007 if "bus" in f else 0x0006).to_bytes(2, "little")
    c[9], c[10], c[11] = f["cls"][2], f["cls"][1], f["cls"][0]
    if "bus" in f:
        c[0x0E] = 0x01
        c[0x18:0x1B] = bytes(f["bus"])
    if "port" in f:
        c[6:8] = (0x0010).to_bytes(2, "little")  # capability list
        c[0x34] = 0x40
        c[0x40], c[0x41] = 0x10, 0x00            # PCI Express, last
        c[0x42:0x44] = (0x0002 | f["port"] << 4).to_bytes(2, "little")
    if acs is not None:
        c[0x100:0x104] = (0x0001000D).to_bytes(4, "little")
        c[0x104:0x106] = (0x001F).to_bytes(2, "little")
        c[0x106:0x108] = acs.to_bytes(2, "little")
    return c


NAMES = {0x0600: "Host bridge", 0x0604: "PCI bridge",
         0x0108: "Non-Volatile memory controller"}


def write(name, comment, funcs):
    with open(name, "w") as out:
        for line in comment.strip().splitlines():
            out.write("# " + line + "\n")
        for bdf, f in funcs:
            c = config(f)
            kind = NAMES[f["cls"][0] << 8 | f["cls"][1]]
            out.write(f"\n{bdf} {kind}\n")
            for off in range(0, len(c), 16):
                row = " ".join(f"{b:02x}" for b in c[off:off + 16])
                out.write(f"{off:02x}: {row}\n")


def switch(acs_rp=None, acs_up=None, acs_dn0=0x0013, acs_dn1=None):
    return [("0000:00:00.0", HOST),
            ("0000:00:01.0", rp(0, 1, 4, acs_rp)),
            ("0000:01:00.0", up(1, 2, 4, acs_up)),
            ("0000:02:00.0", down(2, 3, 3, acs_dn0)),
            ("0000:02:01.0", down(2, 4, 4, acs_dn1)),
            ("0000:03:00.0", nvme()),
            ("0000:04:00.0", nvme())]


write("p2p-switch.dump", """
A PCIe switch below root port 00:01.0 (buses 1-4): upstream port 01:00.0
(buses 2-4), downstream ports 02:00.0 (bus 3) and 02:01.0 (bus 4), an NVMe
endpoint on each (03:00.0, 04:00.0). 02:00.0 has ACS with only Source
Validation, Translation Blocking and Upstream Forwarding on (0x0013): no
redirect. Written by p2p-dumps.py.
""", switch())

write("p2p-acs.dump", """
p2p-switch.dump with P2P Request Redirect (ACS control 0x0004) on the
downstream port 02:01.0 above 04:00.0. Written by p2p-dumps.py.
""", switch(acs_dn1=0x0004))

write("p2p-acs-common.dump", """
p2p-switch.dump with P2P Egress Control (ACS control 0x0020) on the
switch's upstream port 01:00.0, the bridge common to 03:00.0 and 04:00.0
(the kernel checks it too). Written by p2p-dumps.py.
""", switch(acs_up=0x0020))

write("p2p-acs-above.dump", """
p2p-switch.dump with Request and Completion Redirect (ACS control 0x000c)
on the root port 00:01.0, above the common bridge 01:00.0 (the kernel
does not look there). Written by p2p-dumps.py.
""", switch(acs_rp=0x000C))

write("p2p-rootports.dump", """
Two NVMe endpoints under different root ports: 01:00.0 below 00:01.0,
02:00.0 below 00:02.0; no bridge in common below the host bridge.
Written by p2p-dumps.py.
""", [("0000:00:00.0", HOST),
      ("0000:00:01.0", rp(0, 1, 1)),
      ("0000:00:02.0", rp(0, 2, 2)),
      ("0000:01:00.0", nvme()),
      ("0000:02:00.0", nvme())])
