/**
 * Addresses that name the machine itself or its link: what a remote server must never send a
 * copy to, and what a repository URL must never name. Pure: no resolution.
 */
import * as net from 'net';

const LOCAL_ADDRESSES = (() => {
  const list = new net.BlockList();
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addSubnet('169.254.0.0', 16, 'ipv4');
  list.addSubnet('0.0.0.0', 8, 'ipv4');
  list.addAddress('::1', 'ipv6');
  list.addAddress('::', 'ipv6');
  list.addSubnet('fe80::', 10, 'ipv6');
  // EC2's instance metadata service over IPv6.
  list.addAddress('fd00:ec2::254', 'ipv6');
  return list;
})();

/** Whether an address (IPv4, IPv6, IPv4-mapped IPv6) is loopback, link-local, unspecified or the metadata service. */
export function isLocalAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = net.isIP(bare);
  return family !== 0 && LOCAL_ADDRESSES.check(bare, family === 6 ? 'ipv6' : 'ipv4');
}
