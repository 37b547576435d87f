package conntrack

import (
	"encoding/binary"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The filter attributes of a ctnetlink request (linux/netfilter/
// nfnetlink_conntrack.h), which vishvananda/netlink does not define.
const (
	ctaFilter           = 25
	ctaFilterOrigFlags  = 1
	ctaFilterReplyFlags = 2

	filterIPSrc        = 1 << 0
	filterIPDst        = 1 << 1
	filterProtoNum     = 1 << 3
	filterProtoDstPort = 1 << 5
)

// flush asks the kernel to delete the entries m matches: a conntrack
// DELETE with a filter (CTA_FILTER) and no whole tuple, which since Linux
// 6.12 walks the table in the kernel, skipping empty buckets, and answers
// with an acknowledgement only. A dump instead locks every bucket and
// copies every entry out.
func (c *Cleaner) flush(m match) error {
	req := nl.NewNetlinkRequest(unix.NFNL_SUBSYS_CTNETLINK<<8|nl.IPCTNL_MSG_CT_DELETE, unix.NLM_F_ACK)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_NETFILTER: {Socket: c.sock}}
	req.AddData(&nl.Nfgenmsg{NfgenFamily: uint8(m.family), Version: nl.NFNETLINK_V0})

	tupleType := nl.CTA_TUPLE_ORIG
	if m.reply {
		tupleType = nl.CTA_TUPLE_REPLY
	}
	tuple := nl.NewRtAttr(unix.NLA_F_NESTED|tupleType, nil)
	var flags uint32
	if m.src.IsValid() || m.dst.IsValid() {
		ip := tuple.AddRtAttr(unix.NLA_F_NESTED|nl.CTA_TUPLE_IP, nil)
		srcType, dstType := nl.CTA_IP_V4_SRC, nl.CTA_IP_V4_DST
		if m.family == nl.FAMILY_V6 {
			srcType, dstType = nl.CTA_IP_V6_SRC, nl.CTA_IP_V6_DST
		}
		if m.src.IsValid() {
			ip.AddRtAttr(srcType, m.src.AsSlice())
			flags |= filterIPSrc
		}
		if m.dst.IsValid() {
			ip.AddRtAttr(dstType, m.dst.AsSlice())
			flags |= filterIPDst
		}
	}
	if m.proto != 0 {
		proto := tuple.AddRtAttr(unix.NLA_F_NESTED|nl.CTA_TUPLE_PROTO, nil)
		proto.AddRtAttr(nl.CTA_PROTO_NUM, []byte{m.proto})
		flags |= filterProtoNum
		if m.dstPort != 0 {
			proto.AddRtAttr(nl.CTA_PROTO_DST_PORT, binary.BigEndian.AppendUint16(nil, m.dstPort))
			flags |= filterProtoDstPort
		}
	}
	req.AddData(tuple)

	origFlags, replyFlags := flags, uint32(0)
	if m.reply {
		origFlags, replyFlags = 0, flags
	}
	filter := nl.NewRtAttr(unix.NLA_F_NESTED|ctaFilter, nil)
	filter.AddRtAttr(ctaFilterOrigFlags, binary.NativeEndian.AppendUint32(nil, origFlags))
	filter.AddRtAttr(ctaFilterReplyFlags, binary.NativeEndian.AppendUint32(nil, replyFlags))
	req.AddData(filter)

	_, err := req.Execute(unix.NETLINK_NETFILTER, 0)
	return err
}
