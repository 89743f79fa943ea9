package stack

// Checks of the Grafana image the stack builds (deploy/grafana/Dockerfile,
// /.dockerignore) and of the optional dist/ override (deploy/compose.dist.yaml):
// `docker compose up -d --build` must work with nothing but Docker, so the
// image has to build the plugin itself, for the host's architecture, from
// sources the build context actually contains.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/traceweave/traceweave/internal/memlimit"
)

const (
	grafanaService    = "grafana"
	grafanaDockerfile = "deploy/grafana/Dockerfile"
	dockerignorePath  = ".dockerignore"
	distOverridePath  = "deploy/compose.dist.yaml"
	goModPath         = "go.mod"
	packageJSONPath   = "package.json"

	// pluginDir is where Grafana looks for the plugin inside its image.
	pluginDir = "/var/lib/grafana/plugins/" + pluginType
)

// mustIgnore lists what the build context must leave out: dependency and tool
// caches (hundreds of MB), local build outputs (a stale dist/ must never reach
// the image), the demo (it has its own contexts) and VCS data.
var mustIgnore = []string{"node_modules", ".tools", "dist", "demo", ".git", "coverage"}

// dockerStage is one FROM section of a Dockerfile, with its instructions
// (continuation lines joined).
type dockerStage struct {
	Name  string
	Image string // with global ARG defaults substituted
	Lines []string
}

// dockerfile is a parsed Dockerfile: global ARG defaults and the stages.
type dockerfile struct {
	Args   map[string]string
	Stages []dockerStage
}

var argRefRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// parseDockerfile reads the instructions the checks need; it is not a full
// Dockerfile parser (no heredocs, no escape directive).
func parseDockerfile(src string) dockerfile {
	df := dockerfile{Args: map[string]string{}}
	var joined []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		joined = append(joined, cur.String())
		cur.Reset()
	}
	for _, ins := range joined {
		kw, rest, _ := strings.Cut(ins, " ")
		switch strings.ToUpper(kw) {
		case "ARG":
			if len(df.Stages) == 0 {
				k, v, _ := strings.Cut(strings.TrimSpace(rest), "=")
				df.Args[k] = strings.Trim(v, `"'`)
			}
		case "FROM":
			fields := strings.Fields(rest)
			st := dockerStage{}
			for _, f := range fields {
				if !strings.HasPrefix(f, "--") {
					st.Image = argRefRE.ReplaceAllStringFunc(f, func(ref string) string {
						return df.Args[argRefRE.FindStringSubmatch(ref)[1]]
					})
					break
				}
			}
			if n := len(fields); n >= 3 && strings.EqualFold(fields[n-2], "AS") {
				st.Name = fields[n-1]
			}
			df.Stages = append(df.Stages, st)
		}
		if len(df.Stages) > 0 {
			st := &df.Stages[len(df.Stages)-1]
			st.Lines = append(st.Lines, ins)
		}
	}
	return df
}

func (df dockerfile) stage(name string) (dockerStage, bool) {
	for _, st := range df.Stages {
		if st.Name == name {
			return st, true
		}
	}
	return dockerStage{}, false
}

// copySources returns the context paths COPY/ADD read (not --from= copies).
func (df dockerfile) copySources() []string {
	var out []string
	for _, st := range df.Stages {
		out = append(out, st.copySources()...)
	}
	return out
}

// copySources returns the context paths the stage's COPY/ADD read.
func (st dockerStage) copySources() []string {
	var out []string
	for _, l := range st.Lines {
		kw, rest, _ := strings.Cut(l, " ")
		if !strings.EqualFold(kw, "COPY") && !strings.EqualFold(kw, "ADD") {
			continue
		}
		var args []string
		fromStage := false
		for _, f := range strings.Fields(rest) {
			if strings.HasPrefix(f, "--from=") {
				fromStage = true
			}
			if !strings.HasPrefix(f, "--") {
				args = append(args, f)
			}
		}
		if fromStage || len(args) < 2 {
			continue
		}
		out = append(out, args[:len(args)-1]...)
	}
	return out
}

// copiesInto reports whether the stage copies the named stage's dist/ into dst.
func (st dockerStage) copiesInto(from, dst string) bool {
	for _, l := range st.Lines {
		f := strings.Fields(l)
		if len(f) >= 4 && strings.EqualFold(f[0], "COPY") && slices.Contains(f, "--from="+from) &&
			strings.TrimSuffix(f[len(f)-1], "/") == dst && strings.HasSuffix(strings.TrimSuffix(f[len(f)-2], "/"), "/dist") {
			return true
		}
	}
	return false
}

func (st dockerStage) text() string { return strings.Join(st.Lines, "\n") }

var (
	nodeImageRE   = regexp.MustCompile(`^node:22\.\d+\.\d+-bookworm-slim$`)
	goDirectiveRE = regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)\s*$`)
	mageRequireRE = regexp.MustCompile(`github\.com/magefile/mage (v\S+)`)
	golangTagRE   = regexp.MustCompile(`^golang:(\d+\.\d+\.\d+)-bookworm$`)
)

// versionAtLeast compares dotted numeric versions ("1.26.8" >= "1.26.5").
func versionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := range max(len(h), len(w)) {
		var a, b int
		if i < len(h) {
			a, _ = strconv.Atoi(h[i])
		}
		if i < len(w) {
			b, _ = strconv.Atoi(w[i])
		}
		if a != b {
			return a > b
		}
	}
	return true
}

// imageInputs is everything checkGrafanaImage reads besides the compose file.
type imageInputs struct {
	Dockerfile   string
	Dockerignore string
	GoMod        string
	PackageJSON  []byte
	// PluginDirs are the repo-relative directories of this module's
	// packages the plugin binary is built from (go list -deps ./pkg).
	PluginDirs []string
}

func loadImageInputs(t *testing.T, root string) imageInputs {
	t.Helper()
	read := func(rel string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatalf("read %s: %v", rel, err)
		}
		return b
	}
	return imageInputs{
		Dockerfile:   string(read(grafanaDockerfile)),
		Dockerignore: string(read(dockerignorePath)),
		GoMod:        string(read(goModPath)),
		PackageJSON:  read(packageJSONPath),
		PluginDirs:   pluginPackageDirs(t, root),
	}
}

// pluginPackageDirs lists, relative to root, the directories of this
// module's packages that the plugin binary (./pkg) imports, directly or not.
func pluginPackageDirs(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./pkg")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./pkg: %v", err)
	}
	var dirs []string
	for _, d := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, filepath.ToSlash(rel))
	}
	if len(dirs) == 0 {
		t.Fatal("go list -deps ./pkg listed no package of this module")
	}
	return dirs
}

// ignorePatterns returns the non-comment lines of a .dockerignore.
func ignorePatterns(src string) []string {
	var out []string
	for _, l := range strings.Split(src, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, strings.Trim(l, "/"))
	}
	return out
}

// ignored reports whether a context path is excluded by a pattern (the
// patterns here are plain paths or globs; negations are not used).
func ignored(patterns []string, p string) bool {
	p = strings.Trim(path.Clean(p), "/")
	for _, pat := range patterns {
		for q := p; q != "." && q != ""; q = path.Dir(q) {
			if ok, _ := path.Match(pat, q); ok {
				return true
			}
		}
	}
	return false
}

// checkGrafanaImage wants the grafana service built from the repo root with
// deploy/grafana/Dockerfile: a pinned Node 22 front-end stage, a Go stage that
// builds the backend for TARGETARCH (amd64 and arm64) with the mage version
// go.mod pins, a final Grafana image matching the @grafana/ui the front end is
// built against, both dist/ outputs copied into the plugin directory, unsigned
// loading allowed for this plugin id only, and a .dockerignore that keeps
// caches and outputs out without hiding a source the build copies.
func checkGrafanaImage(c composeFile, root string, in imageInputs) []string {
	var probs []string
	svc, ok := c.Services[grafanaService]
	if !ok {
		return []string{"no grafana service"}
	}
	b, _ := svc.Build.(map[string]any)
	if ctx, _ := b["context"].(string); path.Clean(ctx) != "." {
		probs = append(probs, fmt.Sprintf("service grafana: build context %q, want the repo root \".\" (the Dockerfile builds pkg/ and src/)", ctx))
	}
	if df, _ := b["dockerfile"].(string); df != grafanaDockerfile {
		probs = append(probs, fmt.Sprintf("service grafana: dockerfile %q, want %s", df, grafanaDockerfile))
	}
	for _, v := range svc.Volumes {
		if src, bind := bindSource(v); bind {
			if _, rest, _ := strings.Cut(v, ":"); strings.HasPrefix(rest, pluginDir) {
				probs = append(probs, fmt.Sprintf("service grafana: bind mount %s hides the plugin built into the image (use %s for that)", src, distOverridePath))
			}
		}
	}
	if got := svc.Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"]; got != pluginType {
		probs = append(probs, fmt.Sprintf("service grafana: GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=%q, want exactly %s", got, pluginType))
	}

	df := parseDockerfile(in.Dockerfile)
	if len(df.Stages) == 0 {
		return append(probs, grafanaDockerfile+": no FROM")
	}
	for _, st := range df.Stages {
		ref := st.Image[strings.LastIndex(st.Image, "/")+1:]
		if _, tag, _ := strings.Cut(ref, ":"); tag == "" || tag == "latest" {
			probs = append(probs, fmt.Sprintf("%s: stage %q image %q is not pinned to an exact version", grafanaDockerfile, st.Name, st.Image))
		}
	}

	if fe, ok := df.stage("frontend"); !ok {
		probs = append(probs, grafanaDockerfile+": no stage \"frontend\"")
	} else {
		if !nodeImageRE.MatchString(fe.Image) {
			probs = append(probs, fmt.Sprintf("%s: frontend image %q, want node:22.x.y-bookworm-slim (package.json engines node >=22)", grafanaDockerfile, fe.Image))
		}
		for _, want := range []string{"npm ci", "npm run build"} {
			if !strings.Contains(fe.text(), want) {
				probs = append(probs, fmt.Sprintf("%s: frontend stage does not run %q", grafanaDockerfile, want))
			}
		}
	}

	if be, ok := df.stage("backend"); !ok {
		probs = append(probs, grafanaDockerfile+": no stage \"backend\"")
	} else {
		m := golangTagRE.FindStringSubmatch(be.Image)
		goDir := goDirectiveRE.FindStringSubmatch(in.GoMod)
		switch {
		case m == nil:
			probs = append(probs, fmt.Sprintf("%s: backend image %q, want golang:X.Y.Z-bookworm", grafanaDockerfile, be.Image))
		case goDir != nil && !versionAtLeast(m[1], goDir[1]):
			probs = append(probs, fmt.Sprintf("%s: backend image Go %s is older than go.mod's go %s", grafanaDockerfile, m[1], goDir[1]))
		}
		text := be.text()
		if mv := mageRequireRE.FindStringSubmatch(in.GoMod); mv != nil && !strings.Contains(text, "github.com/magefile/mage@"+mv[1]) {
			probs = append(probs, fmt.Sprintf("%s: backend stage does not run github.com/magefile/mage@%s (the version go.mod requires)", grafanaDockerfile, mv[1]))
		}
		// Every package of this module the binary imports must be in the
		// build context of the stage, or the build fails with "package not
		// found" (internal/ was once missing here).
		srcs := be.copySources()
		for _, dir := range in.PluginDirs {
			if !slices.ContainsFunc(srcs, func(src string) bool {
				src = strings.Trim(path.Clean(src), "/")
				return src == "." || dir == src || strings.HasPrefix(dir, src+"/")
			}) {
				probs = append(probs, fmt.Sprintf("%s: backend stage does not copy %s/, which the plugin binary imports", grafanaDockerfile, dir))
			}
		}
		if !strings.Contains(text, "ARG TARGETARCH") {
			probs = append(probs, grafanaDockerfile+": backend stage does not declare ARG TARGETARCH, so it cannot pick the host's architecture")
		}
		for _, target := range []string{"build:linux ", "build:linuxARM64"} {
			if !strings.Contains(text, target) {
				probs = append(probs, fmt.Sprintf("%s: backend stage never builds mage target %s", grafanaDockerfile, strings.TrimSpace(target)))
			}
		}
	}

	final := df.Stages[len(df.Stages)-1]
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(in.PackageJSON, &pkg); err != nil {
		probs = append(probs, fmt.Sprintf("%s: %v", packageJSONPath, err))
	}
	if ui := pkg.Dependencies["@grafana/ui"]; final.Image != "grafana/grafana:"+ui {
		probs = append(probs, fmt.Sprintf("%s: final image %q, want grafana/grafana:%s (the @grafana/ui the front end is built against)", grafanaDockerfile, final.Image, ui))
	}
	for _, from := range []string{"frontend", "backend"} {
		if !final.copiesInto(from, pluginDir) {
			probs = append(probs, fmt.Sprintf("%s: final stage does not copy %s's dist/ into %s/", grafanaDockerfile, from, pluginDir))
		}
	}

	patterns := ignorePatterns(in.Dockerignore)
	for _, want := range mustIgnore {
		if !slices.Contains(patterns, want) {
			probs = append(probs, fmt.Sprintf("%s: does not exclude %s", dockerignorePath, want))
		}
	}
	for _, src := range df.copySources() {
		if src == "." {
			continue
		}
		if ignored(patterns, src) {
			probs = append(probs, fmt.Sprintf("%s: excludes %s, which %s copies", dockerignorePath, src, grafanaDockerfile))
		}
		if _, err := os.Stat(filepath.Join(root, src)); err != nil {
			probs = append(probs, fmt.Sprintf("%s: copies %s, which does not exist in the repo", grafanaDockerfile, src))
		}
	}
	return probs
}

// checkDistOverride wants deploy/compose.dist.yaml to change one thing: mount
// the local dist/ over the plugin directory of the grafana service.
func checkDistOverride(raw []byte) []string {
	var over composeFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&over); err != nil {
		return []string{fmt.Sprintf("%s: %v", distOverridePath, err)}
	}
	var probs []string
	for _, name := range sortedKeys(over.Services) {
		if name != grafanaService {
			probs = append(probs, fmt.Sprintf("%s: overrides service %s; it is only for grafana's plugin directory", distOverridePath, name))
		}
	}
	want := "./dist:" + pluginDir + ":ro"
	if vols := over.Services[grafanaService].Volumes; !slices.Equal(vols, []string{want}) {
		probs = append(probs, fmt.Sprintf("%s: grafana volumes %q, want [%s]", distOverridePath, vols, want))
	}
	return probs
}

func TestGrafanaImageBuildsPlugin(t *testing.T) {
	s := loadStack(t)
	noProblems(t, checkGrafanaImage(s.compose, s.root, loadImageInputs(t, s.root)))
}

func TestDistOverride(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), distOverridePath))
	if err != nil {
		t.Fatal(err)
	}
	noProblems(t, checkDistOverride(b))
}

// TestImageChecksCatchMistakes breaks in-memory copies, one mistake each.
func TestImageChecksCatchMistakes(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *composeFile, in *imageInputs)
		want   string
	}{
		{"dist bind mount back", func(c *composeFile, _ *imageInputs) {
			svc := c.Services[grafanaService]
			svc.Volumes = append(slices.Clone(svc.Volumes), "./dist:"+pluginDir+":ro")
			c.Services[grafanaService] = svc
		}, "hides the plugin built into the image"},
		{"unsigned allowlist widened", func(c *composeFile, _ *imageInputs) {
			c.Services[grafanaService].Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"] = pluginType + ",other-app"
		}, "want exactly " + pluginType},
		{"context is deploy/", func(c *composeFile, _ *imageInputs) {
			svc := c.Services[grafanaService]
			svc.Build = map[string]any{"context": "./deploy/grafana", "dockerfile": "Dockerfile"}
			c.Services[grafanaService] = svc
		}, "want the repo root"},
		{"node 20", func(_ *composeFile, in *imageInputs) {
			in.Dockerfile = regexp.MustCompile(`node:22\.[0-9.]+-bookworm-slim`).ReplaceAllString(in.Dockerfile, "node:20.19.0-bookworm-slim")
		}, "want node:22.x.y-bookworm-slim"},
		{"amd64 only", func(_ *composeFile, in *imageInputs) {
			in.Dockerfile = strings.ReplaceAll(in.Dockerfile, "build:linuxARM64", "build:linux")
		}, "never builds mage target build:linuxARM64"},
		{"grafana latest", func(_ *composeFile, in *imageInputs) {
			in.Dockerfile = strings.ReplaceAll(in.Dockerfile, "grafana/grafana:13.2.3", "grafana/grafana:latest")
		}, "not pinned"},
		{"backend not copied", func(_ *composeFile, in *imageInputs) {
			in.Dockerfile = strings.ReplaceAll(in.Dockerfile, "COPY --from=backend", "# COPY --from=backend")
		}, "does not copy backend's dist/"},
		{"node_modules in context", func(_ *composeFile, in *imageInputs) {
			in.Dockerignore = strings.ReplaceAll(in.Dockerignore, "\nnode_modules\n", "\n")
		}, "does not exclude node_modules"},
		{"source ignored", func(_ *composeFile, in *imageInputs) { in.Dockerignore += "\npkg\n" },
			"excludes pkg/"},
		{"old Go", func(_ *composeFile, in *imageInputs) {
			in.GoMod = goDirectiveRE.ReplaceAllString(in.GoMod, "go 1.27.0")
		}, "older than go.mod's go 1.27.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := loadStack(t)
			in := loadImageInputs(t, s.root)
			for _, p := range checkGrafanaImage(s.compose, s.root, in) {
				if strings.Contains(p, tc.want) {
					t.Fatalf("the unmodified files already have %q", p)
				}
			}
			tc.mutate(&s.compose, &in)
			probs := checkGrafanaImage(s.compose, s.root, in)
			for _, p := range probs {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got %q", tc.want, probs)
		})
	}

	t.Run("override mounts elsewhere", func(t *testing.T) {
		raw := []byte("services:\n  grafana:\n    volumes:\n      - ./dist:/var/lib/grafana/plugins/other:ro\n")
		if probs := checkDistOverride(raw); len(probs) == 0 {
			t.Error("want a problem for a dist/ mount outside the plugin directory")
		}
	})
}

// TestGrafanaINIPluginSection checks the image's grafana.ini: the plugin's
// section is named after the plugin id (or Grafana passes its keys to no
// one), its memory_limit is a value the plugin accepts, and the final stage
// installs the file where Grafana reads it.
func TestGrafanaINIPluginSection(t *testing.T) {
	s := loadStack(t)
	src, err := os.ReadFile(filepath.Join(s.root, "deploy/grafana/grafana.ini"))
	if err != nil {
		t.Fatal(err)
	}
	section, keys := "", map[string]map[string]string{}
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			keys[section] = map[string]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("grafana.ini: line %q is not key = value inside a section", line)
			}
			keys[section][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	plugin, ok := keys["plugin."+pluginType]
	if !ok {
		t.Fatalf("grafana.ini has no [plugin.%s] section; sections: %v", pluginType, keys)
	}
	if _, err := memlimit.Parse(plugin["memory_limit"]); err != nil {
		t.Errorf("grafana.ini memory_limit: %v", err)
	}
	df := parseDockerfile(string(mustRead(t, filepath.Join(s.root, grafanaDockerfile))))
	final := df.Stages[len(df.Stages)-1]
	if !slices.Contains(final.Lines, "COPY deploy/grafana/grafana.ini /etc/grafana/grafana.ini") {
		t.Errorf("%s: the final stage does not install deploy/grafana/grafana.ini as /etc/grafana/grafana.ini", grafanaDockerfile)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
