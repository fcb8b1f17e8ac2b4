// Command modcheck is an independent oracle for GR006, GR007 and GR009, used to
// measure gorules' precision and recall on real code (docs/accuracy.md).
//
// It shares no code with gorules: go.mod files are read with
// golang.org/x/mod/modfile, import blocks with go/parser, build constraints with
// cmd/go's own ShouldBuild (internal/imports/build.go, copied at build time from
// the installed Go sources by run-modcheck.sh), the module tree is walked the
// way cmd/go/internal/modload.matchPackages walks it.
//
// Input: a root directory, then optionally radar entries as path=ring (default:
// the shipped radar-2024q3's non-adopt entries). Output: one JSON object per line, an expected finding
// {"file","line","code","kind"} (file relative to the root), and for GR006 the
// provider check {"kind":"provider-mismatch"} where the longest required module
// is not the module whose sources (in a GOPATH-layout tree) contain the package.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

var (
	// golang.org/x/mod/modfile.GoVersionRE of current x/mod (the corpus' copy is older).
	goVersionRE = regexp.MustCompile(`^([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?([a-z]+[0-9]+)?$`)
	generatedRE = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)
	packageRE   = regexp.MustCompile(`(?m)^package\s`)
	anyTags     = map[string]bool{"*": true}
	out         = bufio.NewWriter(os.Stdout)
	root        string
	radar       = map[string]string{ // the shipped radar-2024q3 (non-adopt entries)
		"github.com/rs/zerolog": "hold",
		"entgo.io/ent":          "trial",
	}
)

type finding struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Code string `json:"code"`
	Kind string `json:"kind"`
	Info string `json:"info,omitempty"`
}

func emit(f finding) {
	b, _ := json.Marshal(f)
	out.Write(b)
	out.WriteByte('\n')
}

func rel(p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

func prefixMatch(prefix, path string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func longest(cands []string, path string) string {
	best := ""
	for _, c := range cands {
		if prefixMatch(c, path) && len(c) > len(best) {
			best = c
		}
	}
	return best
}

func skipDir(name string) bool {
	return name == "vendor" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

// imports of one file: (path, line) pairs, or nil and false if the file does not parse.
func fileImports(path string, data []byte) ([]string, []int, bool) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, data, parser.ImportsOnly|parser.ParseComments)
	if err != nil && f == nil {
		return nil, nil, false
	}
	var ps []string
	var ls []int
	for _, s := range f.Imports {
		p, err := strconv.Unquote(s.Path.Value)
		if err != nil {
			continue
		}
		ps = append(ps, p)
		ls = append(ls, fset.PositionFor(s.Pos(), false).Line) // physical line, not a //line directive's
	}
	return ps, ls, err == nil
}

func isGenerated(data []byte) bool {
	head := data
	if loc := packageRE.FindIndex(data); loc != nil {
		head = data[:loc[0]]
	}
	return generatedRE.Match(head)
}

// moduleImports walks a module like modload.matchPackages: nested modules,
// vendor, testdata, dot and underscore directories are cut; symlinks not followed.
func moduleImports(dir string) map[string]bool {
	imps := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != dir {
				if skipDir(d.Name()) {
					return filepath.SkipDir
				}
				if fi, err := os.Stat(filepath.Join(p, "go.mod")); err == nil && !fi.IsDir() {
					return filepath.SkipDir
				}
			}
			return nil
		}
		name := d.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil || !ShouldBuild(data, anyTags) {
			return nil
		}
		ps, _, _ := fileImports(p, data)
		for _, ip := range ps {
			imps[ip] = true
		}
		return nil
	})
	return imps
}

// providerOnDisk: in a GOPATH-layout tree, the module whose directory holds the package.
func providerOnDisk(importPath string) string {
	dir := filepath.Join(root, filepath.FromSlash(importPath))
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	for d := dir; strings.HasPrefix(d, root) && d != root; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			if mp := modfile.ModulePath(data); mp != "" {
				return mp
			}
			return ""
		}
	}
	return ""
}

func checkGoMod(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		emit(finding{rel(path), 0, "PARSE", "error", err.Error()})
		return
	}
	// GR007 on the raw go statement
	goLine, goVer := 0, ""
	for _, stmt := range f.Syntax.Stmt {
		if l, ok := stmt.(*modfile.Line); ok && len(l.Token) > 0 && l.Token[0] == "go" {
			goLine = l.Start.Line
			goVer = strings.Join(l.Token[1:], " ")
			break
		}
	}
	switch m := goVersionRE.FindStringSubmatch(goVer); {
	case goLine == 0:
		emit(finding{rel(path), 1, "GR007", "missing", ""})
	case m == nil:
		emit(finding{rel(path), goLine, "GR007", "malformed", goVer})
	default:
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		if major < 1 || (major == 1 && minor < 23) {
			emit(finding{rel(path), goLine, "GR007", "too-old", goVer})
		}
	}
	if strings.HasSuffix(path, "go.work") {
		return
	}
	main := ""
	if f.Module != nil {
		main = f.Module.Mod.Path
	}
	var cands []string
	for _, r := range f.Require {
		cands = append(cands, r.Mod.Path)
	}
	if main != "" {
		cands = append(cands, main)
	}
	direct := map[string]string{}
	imps := moduleImports(filepath.Dir(path))
	keys := make([]string, 0, len(imps))
	for ip := range imps {
		keys = append(keys, ip)
	}
	sort.Strings(keys)
	for _, ip := range keys {
		if !strings.Contains(strings.SplitN(ip, "/", 2)[0], ".") {
			continue
		}
		prov := longest(cands, ip)
		if prov == "" || prov == main {
			continue
		}
		direct[prov] = ip
		if disk := providerOnDisk(ip); disk != "" && disk != prov {
			in := false
			for _, c := range cands {
				if c == disk {
					in = true
				}
			}
			if in {
				emit(finding{rel(path), 0, "GR006", "provider-mismatch", ip + " longest=" + prov + " disk=" + disk})
			}
		}
	}
	for _, r := range f.Require {
		_, isDirect := direct[r.Mod.Path]
		line := r.Syntax.Start.Line
		if !isDirect && !r.Indirect {
			emit(finding{rel(path), line, "GR006", "missing-indirect", r.Mod.Path})
		} else if isDirect && r.Indirect {
			emit(finding{rel(path), line, "GR006", "extra-indirect", r.Mod.Path + " via " + direct[r.Mod.Path]})
		}
		for entry := range radar {
			if prefixMatch(entry, r.Mod.Path) {
				emit(finding{rel(path), line, "GR009", "require", r.Mod.Path})
			}
		}
	}
}

// ownModule: the module path of the nearest go.mod above dir.
var ownCache = map[string]string{}

func ownModule(dir string) string {
	if m, ok := ownCache[dir]; ok {
		return m
	}
	m := ""
	if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
		m = modfile.ModulePath(data)
	} else if parent := filepath.Dir(dir); parent != dir {
		m = ownModule(parent)
	}
	ownCache[dir] = m
	return m
}

func checkGoFile(path string) {
	data, err := os.ReadFile(path)
	if err != nil || isGenerated(data) {
		return
	}
	hit := false
	for entry := range radar {
		if strings.Contains(string(data), entry) {
			hit = true
		}
	}
	if !hit {
		return
	}
	ps, ls, _ := fileImports(path, data)
	own := ownModule(filepath.Dir(path))
	for i, ip := range ps {
		for entry := range radar {
			if prefixMatch(entry, ip) && !(own != "" && prefixMatch(own, ip)) {
				emit(finding{rel(path), ls[i], "GR009", "import", ip})
			}
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: modcheck ROOT [path=ring ...]")
		os.Exit(2)
	}
	if len(os.Args) > 2 {
		radar = map[string]string{}
		for _, a := range os.Args[2:] {
			kv := strings.SplitN(a, "=", 2)
			if kv[1] != "adopt" {
				radar[kv[0]] = kv[1]
			}
		}
	}
	root, _ = filepath.Abs(os.Args[1])
	defer out.Flush()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		switch name := d.Name(); {
		case name == "go.mod" || name == "go.work":
			checkGoMod(p)
		case strings.HasSuffix(name, ".go"):
			checkGoFile(p)
		}
		return nil
	})
}
