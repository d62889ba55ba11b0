// tilecheck: an independent check of a log's C2SP static read path, built on
// Go's golang.org/x/mod/sumdb/tlog and sumdb/note (Debian
// golang-golang-x-mod-dev), not on metanotary's code.
//
//	tilecheck URL
//
// It reads URL/mn/v1/info (origin, note_vkey, key), then the checkpoint, and
// checks:
//   - the Ed25519 note signature with note.Open and the info's note_vkey;
//   - the RFC6962NoteSignature (type 0x05) with crypto/ecdsa and the log's key;
//   - every hash tile (full and partial, every level) through
//     tlog.TileHashReader, which proves each tile against the checkpoint's
//     root, and tlog.TreeHash == the checkpoint root == get-sth's root;
//   - every data tile: each TileLeaf's leaf hash equals the level-0 tile hash,
//     and each entry equals what get-entries returns (leaf_input, and the
//     chain fingerprints, pre-certificate or extra_data from its extra_data);
//     every issuer fingerprint is served at issuer/<hex> with that hash;
//   - a partial tile one past the checkpoint is refused (404).
//
// It prints "ok SIZE ROOT" and exits 0, or prints what failed and exits 1.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var base string
var client = &http.Client{Transport: &http.Transport{DisableCompression: true}}

func fail(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "tilecheck: "+f+"\n", a...)
	os.Exit(1)
}

// get fetches base+path; it asks for gzip and inflates it itself, so that the
// Content-Encoding header is checked, not hidden by the transport.
func get(path string) ([]byte, *http.Response, error) {
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Accept-Encoding", "gzip, identity")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp, err
	}
	if resp.StatusCode != 200 {
		return b, resp, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, resp, err
		}
		b, err = io.ReadAll(zr)
		if err != nil {
			return nil, resp, err
		}
	}
	return b, resp, nil
}

func mustGet(path string) ([]byte, *http.Response) {
	b, r, err := get(path)
	if err != nil {
		fail("%v", err)
	}
	return b, r
}

// tilePath: static-ct-api paths have no height element (Go's have "8/").
func tilePath(t tlog.Tile) string {
	return "/tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
}

type reader struct {
	fetched map[string]bool
	cache   map[string][]byte
	data    map[[2]int64][]byte // (L, N) -> the widest tile read
}

func (r *reader) Height() int { return 8 }
func (r *reader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if b, ok := r.cache[tilePath(t)]; ok { // tiles are immutable
			out[i] = b
			continue
		}
		b, resp, err := get(tilePath(t))
		if err != nil {
			return nil, err
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			return nil, fmt.Errorf("%s: Cache-Control %q", tilePath(t), cc)
		}
		out[i] = b
		r.fetched[tilePath(t)] = true
		r.cache[tilePath(t)] = b
		if len(b) > len(r.data[[2]int64{int64(t.L), t.N}]) {
			r.data[[2]int64{int64(t.L), t.N}] = b
		}
	}
	return out, nil
}
func (r *reader) SaveTiles([]tlog.Tile, [][]byte) {}

type cursor struct{ b []byte }

func (c *cursor) take(n int) []byte {
	if n > len(c.b) {
		fail("data tile truncated")
	}
	v := c.b[:n]
	c.b = c.b[n:]
	return v
}
func (c *cursor) uint(n int) uint64 {
	var v uint64
	for _, x := range c.take(n) {
		v = v<<8 | uint64(x)
	}
	return v
}
func (c *cursor) vec(n int) []byte { return c.take(int(c.uint(n))) }

type tileLeaf struct {
	te, pre, extra []byte
	typ            uint16
	fps            [][]byte
}

func parseLeaf(c *cursor) tileLeaf {
	start := c.b
	c.take(8)
	var l tileLeaf
	l.typ = uint16(c.uint(2))
	if l.typ == 1 {
		c.take(32)
	}
	c.vec(3) // signed entry
	c.vec(2) // extensions
	l.te = start[:len(start)-len(c.b)]
	switch l.typ {
	case 0, 1:
		if l.typ == 1 {
			l.pre = c.vec(3)
		}
		chain := c.vec(2)
		if len(chain)%32 != 0 {
			fail("certificate_chain not a list of fingerprints")
		}
		for i := 0; i < len(chain); i += 32 {
			l.fps = append(l.fps, chain[i:i+32])
		}
	case 0x8001, 0x8002, 0x8003:
		l.extra = c.vec(3)
	default:
		fail("unknown entry type %#x", l.typ)
	}
	return l
}

func chainFps(extra []byte, typ uint16) (pre []byte, fps [][]byte) {
	c := &cursor{extra}
	if typ == 1 {
		pre = c.vec(3)
	}
	chain := &cursor{c.vec(3)}
	for len(chain.b) > 0 {
		h := sha256.Sum256(chain.vec(3))
		fps = append(fps, h[:])
	}
	if len(c.b) != 0 {
		fail("extra_data has trailing bytes")
	}
	return
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: tilecheck URL")
	}
	base = strings.TrimSuffix(os.Args[1], "/")
	var info struct {
		Key      string `json:"key"`
		Origin   string `json:"origin"`
		NoteVkey string `json:"note_vkey"`
		LogID    string `json:"log_id"`
	}
	ib, _ := mustGet("/mn/v1/info")
	if err := json.Unmarshal(ib, &info); err != nil {
		fail("info: %v", err)
	}
	cpb, cpr := mustGet("/checkpoint")
	if cpr.Header.Get("Cache-Control") != "no-store" {
		fail("checkpoint Cache-Control %q", cpr.Header.Get("Cache-Control"))
	}
	v, err := note.NewVerifier(info.NoteVkey)
	if err != nil {
		fail("note_vkey: %v", err)
	}
	n, err := note.Open(cpb, note.VerifierList(v))
	if err != nil {
		fail("checkpoint: note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" || lines[0] != info.Origin {
		fail("checkpoint text %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	rootb, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootb) != 32 {
		fail("checkpoint root %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], rootb)

	// RFC6962NoteSignature, from the unverified signatures note.Open kept.
	spki, _ := base64.StdEncoding.DecodeString(info.Key)
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		fail("key: %v", err)
	}
	logID := sha256.Sum256(spki)
	kh := sha256.Sum256(append([]byte(info.Origin+"\n\x05"), logID[:]...))
	found := false
	for _, s := range n.UnverifiedSigs {
		if s.Name != info.Origin || s.Hash != binary.BigEndian.Uint32(kh[:4]) {
			continue
		}
		sig, _ := base64.StdEncoding.DecodeString(s.Base64)
		c := &cursor{sig[4:]}
		ts := c.uint(8)
		if c.uint(1) != 4 || c.uint(1) != 3 {
			fail("0x05 signature: not sha256/ecdsa")
		}
		der := c.vec(2)
		if len(c.b) != 0 {
			fail("0x05 signature: trailing bytes")
		}
		msg := make([]byte, 0, 50)
		msg = append(msg, 0, 1)
		msg = binary.BigEndian.AppendUint64(msg, ts)
		msg = binary.BigEndian.AppendUint64(msg, uint64(size))
		msg = append(msg, root[:]...)
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), h[:], der) {
			fail("0x05 signature does not verify")
		}
		found = true
	}
	if !found {
		fail("no RFC6962NoteSignature under %q", info.Origin)
	}

	// get-sth must be the same tree head.
	var sth struct {
		TreeSize int64  `json:"tree_size"`
		Root     string `json:"sha256_root_hash"`
	}
	sb, _ := mustGet("/ct/v1/get-sth")
	if err := json.Unmarshal(sb, &sth); err != nil || sth.TreeSize != size ||
		sth.Root != lines[2] {
		fail("get-sth %s differs from the checkpoint", sb)
	}

	// Every tile, full and partial, proved against the checkpoint.
	tree := tlog.Tree{N: size, Hash: root}
	tr := &reader{fetched: map[string]bool{}, cache: map[string][]byte{}, data: map[[2]int64][]byte{}}
	hr := tlog.TileHashReader(tree, tr)
	th, err := tlog.TreeHash(size, hr)
	if err != nil || th != root {
		fail("TreeHash %v: %v", th, err)
	}
	// NewTiles from 0 lists every tile, and every width of each partial tile
	// (one per tree size that made it): the widest is proved through the
	// TileHashReader, the narrower ones must be its prefixes.
	tiles := tlog.NewTiles(8, 0, size)
	narrower := []tlog.Tile{}
	for _, t := range tiles {
		if t.W < 256 && int64(t.N)<<8+int64(t.W) < size>>(8*t.L) {
			narrower = append(narrower, t)
			continue
		}
		var idx []int64
		for i := 0; i < t.W; i++ {
			idx = append(idx, tlog.StoredHashIndex(t.L*8, t.N<<8+int64(i)))
		}
		if _, err := hr.ReadHashes(idx); err != nil {
			fail("tile %s: %v", tilePath(t), err)
		}
		if !tr.fetched[tilePath(t)] {
			fail("tile %s not read", tilePath(t))
		}
	}
	for _, t := range narrower {
		b, _ := mustGet(tilePath(t))
		full := tr.data[[2]int64{int64(t.L), t.N}]
		if len(b) != 32*t.W || len(full) < len(b) || !bytes.Equal(full[:len(b)], b) {
			fail("partial tile %s is not a prefix of the proved tile", tilePath(t))
		}
	}
	// A partial tile one beyond the checkpoint must not be served.
	{
		t := tlog.TileForIndex(8, tlog.StoredHashIndex(0, size))
		t.W++
		if _, r, err := get(tilePath(t)); err == nil || r == nil || r.StatusCode != 404 {
			fail("tile %s beyond the checkpoint was served", tilePath(t))
		}
	}

	// Data tiles against level 0 and get-entries.
	issuers := map[string]bool{}
	for start := int64(0); start < size; start += 256 {
		t := tlog.TileForIndex(8, tlog.StoredHashIndex(0, start))
		w := size - start
		if w > 256 {
			w = 256
		}
		t.W = int(w)
		t.L = -1
		b, r := mustGet(tilePath(t))
		if r.Header.Get("Content-Encoding") != "gzip" {
			fail("%s not gzip-encoded", tilePath(t))
		}
		var ents struct {
			Entries []struct {
				LeafInput string `json:"leaf_input"`
				ExtraData string `json:"extra_data"`
			} `json:"entries"`
		}
		c := &cursor{b}
		for i := int64(0); i < w; {
			eb, _ := mustGet(fmt.Sprintf("/ct/v1/get-entries?start=%d&end=%d", start+i, start+w-1))
			if err := json.Unmarshal(eb, &ents); err != nil || len(ents.Entries) == 0 {
				fail("get-entries: %v", err)
			}
			for _, e := range ents.Entries {
				l := parseLeaf(c)
				li, _ := base64.StdEncoding.DecodeString(e.LeafInput)
				ex, _ := base64.StdEncoding.DecodeString(e.ExtraData)
				if !bytes.Equal(li, append([]byte{0, 0}, l.te...)) {
					fail("entry %d: TimestampedEntry differs from get-entries", start+i)
				}
				hs, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, start+i)})
				if err != nil || hs[0] != tlog.RecordHash(li) {
					fail("entry %d: leaf hash differs from tile 0: %v", start+i, err)
				}
				switch l.typ {
				case 0, 1:
					pre, fps := chainFps(ex, l.typ)
					if !bytes.Equal(pre, l.pre) || len(fps) != len(l.fps) {
						fail("entry %d: chain differs", start+i)
					}
					for k := range fps {
						if !bytes.Equal(fps[k], l.fps[k]) {
							fail("entry %d: fingerprint %d differs", start+i, k)
						}
						issuers[hex.EncodeToString(fps[k])] = true
					}
				default:
					if !bytes.Equal(ex, l.extra) {
						fail("entry %d: extra_data differs", start+i)
					}
				}
				i++
			}
		}
		if len(c.b) != 0 {
			fail("%s: %d bytes after the last entry", tilePath(t), len(c.b))
		}
	}
	for fp := range issuers {
		b, r := mustGet("/issuer/" + fp)
		h := sha256.Sum256(b)
		if hex.EncodeToString(h[:]) != fp || r.Header.Get("Content-Type") != "application/pkix-cert" {
			fail("issuer %s: wrong certificate", fp)
		}
	}
	if _, r, err := get("/issuer/" + strings.Repeat("ab", 32)); err == nil || r.StatusCode != 404 {
		fail("unknown issuer served")
	}
	fmt.Printf("ok %d %s tiles=%d issuers=%d\n", size, lines[2], len(tr.fetched), len(issuers))
}
