package session

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/asyncftp/asyncftp/ftp"
	"github.com/asyncftp/asyncftp/handlers"
	"github.com/asyncftp/asyncftp/states"
)

// DataMode says how a session makes its data connections.
type DataMode uint8

// Data connection modes.
const (
	// DataPassive: EPSV, or PASV when the server refuses EPSV; the client
	// dials. The default.
	DataPassive DataMode = iota
	// DataActive: EPRT, or PORT when the server refuses EPRT; the client
	// listens and the server dials.
	DataActive
	// DataAuto: passive, and active from the first time the server refuses
	// both EPSV and PASV, for the rest of the session.
	DataAuto
)

// String names the mode as the CLI spells it.
func (m DataMode) String() string {
	switch m {
	case DataPassive:
		return "passive"
	case DataActive:
		return "active"
	case DataAuto:
		return "auto"
	}
	return "DataMode(" + strconv.Itoa(int(m)) + ")"
}

// ActiveOptions tune active mode.
type ActiveOptions struct {
	// PortMin and PortMax bound the ports the client listens on (a firewall
	// opening, say). Both zero: any port the kernel picks.
	PortMin, PortMax int
	// Advertise is the IP address sent in EPRT/PORT instead of the control
	// connection's local address: the public address of a client behind NAT.
	// The client still listens on the control connection's local address.
	Advertise string
}

// Active describes the listening side of an active-mode data connection (see
// Driver.Listen). The driver listens on DataRequest.Addr's host, accepts one
// connection, only from Peer, within Timeout, and closes the listener on
// every path.
type Active struct {
	// Peer is the only host allowed to connect: the control connection's
	// remote address. A connection from any other address is closed and
	// noted, and the driver keeps waiting: a third party must not be able to
	// feed or steal the data.
	Peer string
	// PortMin and PortMax bound the listening port (zero: any).
	PortMin, PortMax int
	// Timeout bounds the wait for the server's connection.
	Timeout time.Duration
}

// activeState is what a session remembers about active mode.
type activeState struct {
	noEPRT    bool // the server refused EPRT: PORT from now on
	noPassive bool // DataAuto: the server refused EPSV and PASV: active from now on
}

func (c *Config) validateActive() error {
	a := c.Active
	if a.Advertise != "" && net.ParseIP(a.Advertise) == nil {
		return &ftp.ArgumentError{Verb: "EPRT", Reason: fmt.Sprintf("advertised address %q is not an IP address", a.Advertise)}
	}
	if a.PortMin < 0 || a.PortMax > 65535 || a.PortMin > a.PortMax || (a.PortMin == 0) != (a.PortMax == 0) {
		return &ftp.ArgumentError{Verb: "EPRT", Reason: fmt.Sprintf("bad active port range %d-%d", a.PortMin, a.PortMax)}
	}
	if c.DataMode > DataAuto {
		return &ftp.ArgumentError{Verb: "EPRT", Reason: "unknown data mode " + c.DataMode.String()}
	}
	return nil
}

// openData starts the data-channel setup of the transfer in s.xfer, passive
// or active as configured.
func (s *Session) openData() {
	if s.cfg.DataMode == DataActive || (s.cfg.DataMode == DataAuto && s.act.noPassive) {
		s.listen()
		return
	}
	s.passive()
}

// dataRequest builds the request for the transfer in s.xfer's data
// connection to (or, in active mode, on) addr.
func (s *Session) dataRequest(addr string) *DataRequest {
	d := s.xfer.data
	req := &DataRequest{
		Network:     "tcp",
		Addr:        addr,
		Upload:      d.Source != nil,
		OffLoop:     d.OffLoop,
		Source:      d.Source,
		TLS:         s.cfg.TLS != TLSNone && !s.cfg.ClearData,
		IdleTimeout: s.cfg.dataIdleTimeout(),
		s:           s,
	}
	if d.OffLoop {
		req.Sink = d.Sink
	}
	return req
}

// listen asks the driver to listen for an active-mode data connection on the
// control connection's local address. EPRT or PORT follows in Listening.
func (s *Session) listen() {
	host, _, err := net.SplitHostPort(s.local)
	if err != nil {
		host = s.local
	}
	x := s.xfer
	x.req = s.dataRequest(net.JoinHostPort(host, "0"))
	x.req.Active = &Active{
		Peer:    s.host,
		PortMin: s.cfg.Active.PortMin,
		PortMax: s.cfg.Active.PortMax,
		Timeout: s.cfg.dataConnectTimeout(),
	}
	s.replyDL = 0
	s.dataDL = s.cfg.now().Add(s.cfg.dataConnectTimeout()).UnixNano()
	s.reschedule()
	s.drv.Listen(x.req) // last: a driver may answer at once
}

// Listening reports that the driver listens on addr (host:port) for the
// active-mode data connection req, or, with err, that it cannot listen. The
// session then sends EPRT (or PORT) and, after its 200, REST and the data
// command, whether or not the server has connected yet.
func (s *Session) Listening(req *DataRequest, addr string, err error) {
	x := s.xfer
	if x == nil || x.req != req || s.Terminal() || x.dataDone || x.cmdSent || s.want != nil {
		return // stale, or answered twice
	}
	if err != nil {
		s.transferFailed(&ftp.TransferError{Verb: s.cur.Cmd.Verb, Want: x.wantOrUnknown(), Reason: "cannot listen for the data connection", Err: err})
		return
	}
	req.Addr = addr
	s.note("listening for the data connection on " + addr)
	s.sendPort()
}

// activeOpened runs when the server has connected in active mode. The data
// command is not sent from here: it follows the reply to EPRT or PORT, which
// some servers (goftp) send only after connecting and others (vsftpd) before.
func (s *Session) activeOpened() {
	x := s.xfer
	if x.cmdSent && !x.ctlDone && s.fsm.Current() == states.Transferring {
		// The 1yz came before the connection: bytes flow now, and the final
		// reply follows them however long they take (see Expect).
		s.replyDL = 0
	}
	s.reschedule()
}

// sendPort sends EPRT for the listening address, or PORT once the server has
// refused EPRT.
func (s *Session) sendPort() {
	arg, err := s.portArg(!s.act.noEPRT)
	if err != nil {
		s.transferFailed(err)
		return
	}
	if s.act.noEPRT {
		s.write(ftp.Cmd("PORT", arg), s.cfg.registry().Lookup("PORT"))
		return
	}
	s.write(ftp.Cmd("EPRT", arg), s.eprtReply)
}

// eprtReply reads the reply to EPRT: 500 or 502 means the server does not know
// EPRT; remember that and send PORT instead. Anything else goes to the
// registry's EPRT handler (Simple: any 2yz is fine).
func (s *Session) eprtReply(x handlers.Exchange, r ftp.Reply) error {
	if r.Code != 500 && r.Code != 502 {
		return s.cfg.registry().Lookup("EPRT")(x, r)
	}
	s.act.noEPRT = true
	x.Note("server refused EPRT; using PORT from now on")
	arg, err := s.portArg(false)
	if err != nil {
		return err
	}
	return x.Send(ftp.Cmd("PORT", arg), s.cfg.registry().Lookup("PORT"))
}

// portArg formats the listening address for EPRT (RFC 2428: |1|ipv4|port| or
// |2|ipv6|port|) or PORT (RFC 959: h1,h2,h3,h4,p1,p2; IPv4 only).
func (s *Session) portArg(eprt bool) (string, error) {
	x := s.xfer
	host, p, err := net.SplitHostPort(x.req.Addr)
	port, perr := strconv.Atoi(p)
	if err != nil || perr != nil || port < 1 || port > 65535 {
		return "", &ftp.ProtocolError{Reason: "driver listens on a bad address", Line: x.req.Addr}
	}
	if s.cfg.Active.Advertise != "" {
		host = s.cfg.Active.Advertise
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "", &ftp.ProtocolError{Reason: "listening address is not an IP address", Line: host}
	}
	v4 := ip.To4()
	if eprt {
		if v4 != nil {
			return "|1|" + v4.String() + "|" + p + "|", nil
		}
		return "|2|" + ip.String() + "|" + p + "|", nil
	}
	if v4 == nil {
		return "", &ftp.TransferError{Verb: s.cur.Cmd.Verb, Want: x.wantOrUnknown(),
			Reason: "the server refused EPRT and PORT cannot carry the IPv6 address " + ip.String(), Err: ftp.ErrUnsupported}
	}
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d", v4[0], v4[1], v4[2], v4[3], port>>8, port&0xff), nil
}

// passiveRefused handles, in DataAuto mode, a permanent refusal (5yz) of EPSV
// or PASV during the data setup: EPSV refused → PASV; PASV refused → active
// mode, for this transfer and the rest of the session. It reports whether it
// took the reply over. (The EPSV handler itself already falls back to PASV on
// 500 and 502, in every mode.)
func (s *Session) passiveRefused(r ftp.Reply) bool {
	x := s.xfer
	if s.cfg.DataMode != DataAuto || x == nil || x.req != nil || r.Class() != 5 {
		return false
	}
	switch s.sent.Verb {
	case "EPSV":
		s.noEPSV = true
		s.note("server refused EPSV; trying PASV")
		s.write(ftp.Cmd("PASV"), s.cfg.registry().Lookup("PASV"))
	case "PASV":
		s.act.noPassive = true
		s.note("server refused EPSV and PASV; using active mode from now on")
		s.listen()
	default:
		return false
	}
	return true
}
