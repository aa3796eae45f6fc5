#!/bin/bash
# Runs inside the test guest as its first process, after tests/vm/init has
# switched to the host's root (read-only 9p under a tmpfs overlay). Sets up
# what the device tests need, records what the kernel really offers, runs
# the chosen CTest tests and powers the guest off. Every line meant for
# tests/vm/run starts with "zc-vm: "; the last one is "zc-vm: result N".
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
. /run/zc-vm.env

say() { echo "zc-vm: $*"; }
fact() { say "fact $1: $2"; }
finish() {
	say "result $1"
	sync
	echo o >/proc/sysrq-trigger
	sleep 10 2>/dev/null # the power-off may take the root away first
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
# what udev would add to devtmpfs: bash's <(...) needs /dev/fd
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=1777 shm /dev/shm
# /tmp and /var/tmp stay the overlay's: writable, and a build tree there
# (a CI checkout) is still seen
ip link set lo up
ulimit -l unlimited 2>/dev/null

fact kernel "$(uname -r)"
for c in $ZC_VM_CONFIG; do
	fact "${c%%=*}" "${c#*=}"
done

# ---- RDMA: rxe on a veth pair (two ports that reach each other) ----------
# zcv1 lives in a network namespace of its own: with both addresses in one
# namespace the kernel routes 10.77.0.1 -> 10.77.0.2 through lo, and a QP
# of rxe0 cannot connect to one of rxe1 (ibv_modify_qp to RTR: ETIMEDOUT,
# measured on 7.3.4). RDMA devices stay visible to every namespace (rdma
# system: netns shared), so the tests use both from this one.
rdma_up() {
	ip link add zcv0 type veth peer name zcv1 || return 1
	ip netns add zcpeer && ip link set zcv1 netns zcpeer || return 1
	ip addr add 10.77.0.1/24 dev zcv0
	ip -n zcpeer addr add 10.77.0.2/24 dev zcv1
	# path MTU 4096: at 1024 rxe's ODP path truncates transfers
	ip link set zcv0 mtu 9000 up
	ip -n zcpeer link set zcv1 mtu 9000 up
	rdma link add rxe0 type rxe netdev zcv0 || return 1
	ip netns exec zcpeer rdma link add rxe1 type rxe netdev zcv1 || return 1
}
if [[ ! -d /sys/module/rdma_rxe ]]; then
	fact rxe "no: rdma_rxe did not load"
elif ! rdma_up >/tmp/rdma.log 2>&1; then
	fact rxe "no: $(tr '\n' ' ' </tmp/rdma.log)"
else
	fact rxe "yes: $(ls /sys/class/infiniband | tr '\n' ' ')"
	if ibv_devinfo -v -d rxe0 >/tmp/devinfo 2>&1; then
		# ibv_devinfo -v lists each ODP cap name on a line of its own
		for k in general_odp_caps rc_odp_caps; do
			fact "rxe_$k" "$(awk -v k="$k:" '$1 == k { f = 1; next }
				f && /^[[:space:]]*[A-Z_]+[[:space:]]*$/ { print $1; next }
				{ f = 0 }' /tmp/devinfo | tr '\n' ' ')"
		done
		fact rxe_mtu "$(sed -n 's/^[[:space:]]*active_mtu:[[:space:]]*//p' \
			/tmp/devinfo | head -n 1)"
	else
		fact rxe_odp "unknown: ibv_devinfo: $(head -n 3 /tmp/devinfo | tr '\n' ' ')"
	fi
fi

# ---- NVMe: find each disk by its serial, one ext4 on each ----------------
disk_of() {
	local s
	for s in /sys/block/nvme*/device/serial; do
		[[ -e "$s" ]] || continue
		if [[ "$(tr -d ' ' <"$s")" == "$1" ]]; then
			basename "$(dirname "$(dirname "$s")")"
			return 0
		fi
	done
	return 1
}
pci_of() { basename "$(readlink -f "/sys/block/$1/device/device")"; }

declare -A mnt pci
for serial in zc1 zc2; do
	d=$(disk_of "$serial") || { fact "nvme_$serial" "missing"; continue; }
	pci[$serial]=$(pci_of "$d")
	mkdir -p "/mnt/$serial"
	if mkfs.ext4 -q -F -E nodiscard "/dev/$d" >/tmp/mkfs.log 2>&1 &&
		mount -t ext4 "/dev/$d" "/mnt/$serial"; then
		mnt[$serial]=/mnt/$serial
		fact "nvme_$serial" "/dev/$d at ${pci[$serial]}, ext4 at /mnt/$serial"
	else
		fact "nvme_$serial" "/dev/$d at ${pci[$serial]}: no ext4: $(tr '\n' ' ' </tmp/mkfs.log)"
	fi
done

# ---- P2PDMA: the CMBs as p2pmem, and whether an NVMe can reach them ------
n=0
for p in /sys/bus/pci/devices/*/p2pmem; do
	[[ -d "$p" ]] || continue
	dev=$(basename "$(dirname "$p")")
	fact "p2pmem $dev" "size $(cat "$p/size") available $(cat "$p/available") published $(cat "$p/published")"
	n=$((n + 1))
done
((n > 0)) || fact p2pmem "none under /sys/bus/pci/devices"
if [[ -n "${mnt[zc1]:-}" && -n "$ZC_VM_P2PCHECK" ]]; then
	f=${mnt[zc1]}/p2pcheck.dat
	head -c $((8 << 20)) /dev/urandom >"$f" && sync
	for serial in zc2 zc1; do
		[[ -n "${pci[$serial]:-}" ]] || continue
		dev=${pci[$serial]}
		what=peer
		[[ $serial == zc1 ]] && what=own
		fact "p2p_odirect ${pci[zc1]}->$dev ($what CMB)" \
			"$("$ZC_VM_P2PCHECK" "$f" "/sys/bus/pci/devices/$dev/p2pmem/allocate" 2>&1 | tr '\n' ' ')"
	done
fi

# ---- the tests ------------------------------------------------------------
if [[ -n "${mnt[zc1]:-}" ]]; then
	export ZC_TEST_EXT4_DIR=${mnt[zc1]}
fi
say "ctest $ZC_VM_CTEST_ARGS (ext4 on NVMe: ${ZC_TEST_EXT4_DIR:-none})"
start=$(date +%s)
# shellcheck disable=SC2086 # the arguments are words on purpose
ctest --test-dir "$ZC_VM_BUILD" --output-on-failure $ZC_VM_CTEST_ARGS
rc=$?
say "ctest took $(($(date +%s) - start)) s, status $rc"
finish "$rc"
