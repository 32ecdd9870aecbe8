// llbcmp builds a few LLB graphs with BuildKit's Go client and prints, per case, the head
// digest and the sha256 of the whole marshalled Definition. tests/llb_go_digests.rs builds the
// same graphs with bentokit::llb and asserts the same values. Dev tool only; run with the GOPATH
// environment from /work/shared/engine/setup-buildkit.sh:  go run ./tools/llbcmp
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sort"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

func main() {
	ctx := context.Background()
	base := llb.Image("localhost:5000/base:latest")
	local := llb.Local("context", llb.SessionID("sess"), llb.SharedKeyHint("ctx"),
		llb.FollowPaths([]string{"app", "req.txt"}), llb.ExcludePatterns([]string{"*.pyc"}))

	df := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", []byte("FROM base\nRUN true\n"))
	other := llb.NewSourceMap(nil, "bentofile.yaml", "YAML", []byte("python: {}\n"))
	line := func(a, b int32) []*pb.Range {
		return []*pb.Range{{Start: pb.Position{Line: a}, End: pb.Position{Line: b}}}
	}

	cases := []struct {
		name string
		st   llb.State
	}{
		{"image", llb.Image("busybox")},
		{"image_pinned", llb.Image("busybox:1.36@sha256:"+fmt.Sprintf("%064x", 1), llb.WithCustomName("[base] FROM busybox"))},
		{"run_basic", base.AddEnv("A", "1").AddEnv("B", "2").Dir("/work").User("nobody").
			Run(llb.Args([]string{"/bin/sh", "-c", "echo hi"}), llb.WithCustomName("RUN echo hi")).Root()},
		{"run_mounts", base.Network(pb.NetMode_NONE).Security(pb.SecurityMode_INSECURE).
			Run(llb.Args([]string{"/bin/sh", "-c", "true"}),
				llb.AddExtraHost("db", []byte{10, 0, 0, 1}),
				llb.AddMount("/cache", llb.Scratch(), llb.AsPersistentCacheDir("pip", llb.CacheMountLocked)),
				llb.AddMount("/tmp", llb.Scratch(), llb.Tmpfs(llb.TmpfsSize(1<<20))),
				llb.AddMount("/src", local, llb.Readonly, llb.SourcePath("/app")),
				llb.AddSecret("/run/secrets/tok", llb.SecretID("tok"), llb.SecretFileOpt(1, 2, 0o440)),
				llb.AddSecret("TOKEN", llb.SecretID("tok2"), llb.SecretAsEnv(true)),
				llb.AddSSHSocket(llb.SSHID("default")),
			).Root()},
		{"file_chain", base.Dir("/app").File(
			llb.Mkdir("data", 0o755, llb.WithParents(true), llb.WithUser("app:staff")).
				Mkfile("data/x.txt", 0o640, []byte("hello"), llb.WithUIDGID(1, 2)).
				Rm("/etc/motd", llb.WithAllowNotFound(true), llb.WithAllowWildcard(true)).
				Copy(local, "app", "./", &llb.CopyInfo{CopyDirContentsOnly: true, FollowSymlinks: true,
					CreateDestPath: true, AllowWildcard: true, AllowEmptyWildcard: true,
					ChownOpt:        &llb.ChownOpt{User: &llb.UserOpt{UID: 1000}, Group: &llb.UserOpt{Name: "staff"}},
					ExcludePatterns: []string{"*.md"}}),
			llb.WithCustomName("COPY app ./"))},
		{"sourcemap", llb.Image("localhost:5000/base:latest", df.Location(line(1, 1))).
			Run(llb.Args([]string{"/bin/sh", "-c", "true"}), df.Location(line(2, 2)),
				other.Location([]*pb.Range{{Start: pb.Position{Line: 1, Character: 0}, End: pb.Position{Line: 1, Character: 6}}}),
				llb.WithCustomName("RUN true")).Root()},
		{"merge_diff", llb.Merge([]llb.State{base, llb.Diff(base, base.File(llb.Mkfile("/f", 0o644, []byte("x"))))},
			llb.WithCustomName("merge"))},
	}
	for _, c := range cases {
		def, err := c.st.Marshal(ctx, llb.LinuxAmd64)
		if err != nil {
			panic(err)
		}
		head, _ := def.Head()
		// Go orders the inputs of multi-input ops by map iteration (random); sort the
		// non-terminal ops so the hash only depends on content.
		n := len(def.Def) - 1
		sort.Slice(def.Def[:n], func(i, j int) bool { return bytes.Compare(def.Def[i], def.Def[j]) < 0 })
		dt, err := def.ToPB().Marshal()
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %s sha256:%x\n", c.name, head, sha256.Sum256(dt))
		if dir := os.Getenv("LLBCMP_OUT"); dir != "" {
			_ = os.WriteFile(dir+"/"+c.name+".pb", dt, 0o644)
		}
	}
}
