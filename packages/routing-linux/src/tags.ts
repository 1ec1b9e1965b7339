/**
 * rtm_protocol stamped on every route ztun installs (and FRA_PROTOCOL on its rules), so a later run can find
 * and flush what a crashed run left behind.
 *
 * 122 is ASCII 'z'. It is not a kernel RTPROT_* value (0–4, 8–18, 42, 99, 186–192 in linux/rtnetlink.h),
 * not in iproute2's /etc/iproute2/rt_protos, and not one of the values other routing software is known to
 * use (FRR 193–198, Calico/BIRD 80 and 12, NetworkManager/systemd-networkd use the standard ones).
 * The kernel never interprets values ≥ RTPROT_STATIC, so any such value is safe to use as a tag.
 * `ip route` prints it as `proto 122` (add `122 ztun` to /etc/iproute2/rt_protos.d/ztun.conf for a name).
 */
export const ZTUN_RT_PROTOCOL = 122;

/**
 * Policy rules ztun installs use priorities in ZTUN_RULE_PRIORITY_MIN..MAX (inclusive): 2600–2699.
 * "26·20" are the alphabet positions of Z and T, so the range is recognisable in `ip rule`. It sits after the
 * local rule (0) and well before main (32766) and default (32767), and avoids the ranges other tunnels
 * install: Tailscale 5210–5270, sing-tun/sing-box/mihomo 9000–9010+, wg-quick 32764–32765, NetBird 105–110.
 */
export const ZTUN_RULE_PRIORITY_MIN = 2600;
export const ZTUN_RULE_PRIORITY_MAX = 2699;
