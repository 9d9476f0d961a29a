package handlers

import (
	"strings"
	"sync"
)

// Connect is the registry key of the handler that reads the greeting, the reply
// that arrives before any command.
const Connect = "connect"

// Registry maps command verbs to handlers. A Registry made with [NewRegistry]
// falls back to the built-in handlers for verbs it does not override. It is safe
// for concurrent use; sessions only read it.
type Registry struct {
	mu     sync.RWMutex
	m      map[string]Handler
	parent *Registry
}

// NewRegistry returns an empty registry on top of the built-in one.
func NewRegistry() *Registry { return &Registry{m: map[string]Handler{}, parent: builtin} }

// Register sets the handler for verb (case-insensitive). Use the key [Connect] for
// the greeting. Registering nil removes an override.
func (r *Registry) Register(verb string, h Handler) {
	verb = strings.ToUpper(verb)
	r.mu.Lock()
	defer r.mu.Unlock()
	if h == nil {
		delete(r.m, verb)
		return
	}
	r.m[verb] = h
}

// Lookup returns the handler for verb, falling back to the built-in ones and
// finally to [Simple], which accepts any 2yz reply.
func (r *Registry) Lookup(verb string) Handler {
	for reg := r; reg != nil; reg = reg.parent {
		reg.mu.RLock()
		h, ok := reg.m[verb]
		if !ok && reg.m != nil {
			h, ok = reg.m[strings.ToUpper(verb)]
		}
		reg.mu.RUnlock()
		if ok {
			return h
		}
	}
	return Simple
}

// Builtin returns the registry of built-in handlers. Sessions without a
// registry of their own use it. Do not register into it; make a [NewRegistry].
func Builtin() *Registry { return builtin }

var builtin = &Registry{m: map[string]Handler{
	Connect: Greeting,
	"AUTH":  Auth,
	"USER":  User,
	"PASS":  Pass,
	"ACCT":  Acct,
	"PWD":   Pwd,
	"XPWD":  Pwd,
	"MKD":   Mkd,
	"XMKD":  Mkd,
	"SYST":  Syst,
	"FEAT":  Feat,
	"QUIT":  Quit,
	"EPSV":  EPSV,
	"PASV":  PASV,
	"SIZE":  Size,
	"MDTM":  Mdtm,
	"MLST":  Mlst,
	"REST":  Intermediate,
	"RNFR":  Intermediate,
	"LIST":  Transfer,
	"NLST":  Transfer,
	"MLSD":  Transfer,
	"RETR":  Transfer,
	"STOR":  Transfer,
	"STOU":  Transfer,
	"APPE":  Transfer,
}}
