/*
 * The iphlpapi row layouts of packages/tun-windows/src/layout.ts, checked at compile time against mingw-w64's
 * netioapi.h (an independent rewrite of the Windows SDK header): the Wine step compiles this with
 * x86_64-w64-mingw32-gcc -fsyntax-only, and a wrong offset stops the step.
 */
#include <winsock2.h>
#include <ws2ipdef.h>
#include <iphlpapi.h>
#include <netioapi.h>
#include <stddef.h>

#define AT(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)
#define SIZE(type, n) _Static_assert(sizeof(type) == (n), "sizeof " #type)

SIZE(SOCKADDR_INET, 28);
SIZE(IP_ADDRESS_PREFIX, 32);
AT(IP_ADDRESS_PREFIX, PrefixLength, 28);

SIZE(MIB_IPFORWARD_ROW2, 104);
AT(MIB_IPFORWARD_ROW2, InterfaceIndex, 8);
AT(MIB_IPFORWARD_ROW2, DestinationPrefix, 12);
AT(MIB_IPFORWARD_ROW2, NextHop, 44);
AT(MIB_IPFORWARD_ROW2, SitePrefixLength, 72);
AT(MIB_IPFORWARD_ROW2, Metric, 84);
AT(MIB_IPFORWARD_ROW2, Protocol, 88);
AT(MIB_IPFORWARD_ROW2, Loopback, 92);
AT(MIB_IPFORWARD_ROW2, Origin, 100);
AT(MIB_IPFORWARD_TABLE2, Table, 8);

SIZE(MIB_UNICASTIPADDRESS_ROW, 80);
AT(MIB_UNICASTIPADDRESS_ROW, InterfaceLuid, 32);
AT(MIB_UNICASTIPADDRESS_ROW, InterfaceIndex, 40);
AT(MIB_UNICASTIPADDRESS_ROW, OnLinkPrefixLength, 60);
AT(MIB_UNICASTIPADDRESS_ROW, DadState, 64);
AT(MIB_UNICASTIPADDRESS_ROW, CreationTimeStamp, 72);
AT(MIB_UNICASTIPADDRESS_TABLE, Table, 8);

SIZE(MIB_IPINTERFACE_ROW, 168);
AT(MIB_IPINTERFACE_ROW, InterfaceLuid, 8);
AT(MIB_IPINTERFACE_ROW, UseAutomaticMetric, 44);
AT(MIB_IPINTERFACE_ROW, RouterDiscoveryBehavior, 52);
AT(MIB_IPINTERFACE_ROW, ZoneIndices, 80);
AT(MIB_IPINTERFACE_ROW, SitePrefixLength, 144);
AT(MIB_IPINTERFACE_ROW, Metric, 148);
AT(MIB_IPINTERFACE_ROW, NlMtu, 152);
AT(MIB_IPINTERFACE_ROW, Connected, 156);
AT(MIB_IPINTERFACE_ROW, DisableDefaultRoutes, 166);

SIZE(MIB_IF_ROW2, 1352);
AT(MIB_IF_ROW2, InterfaceIndex, 8);
AT(MIB_IF_ROW2, InterfaceGuid, 12);
AT(MIB_IF_ROW2, Alias, 28);
AT(MIB_IF_ROW2, Description, 542);
AT(MIB_IF_ROW2, PhysicalAddressLength, 1056);
AT(MIB_IF_ROW2, PhysicalAddress, 1060);
AT(MIB_IF_ROW2, Mtu, 1124);
AT(MIB_IF_ROW2, Type, 1128);
AT(MIB_IF_ROW2, TunnelType, 1132);
AT(MIB_IF_ROW2, OperStatus, 1156);
AT(MIB_IF_ROW2, AdminStatus, 1160);
AT(MIB_IF_ROW2, MediaConnectState, 1164);
AT(MIB_IF_ROW2, ConnectionType, 1184);
AT(MIB_IF_ROW2, TransmitLinkSpeed, 1192);
AT(MIB_IF_ROW2, OutQLen, 1344);
AT(MIB_IF_TABLE2, Table, 8);
