package cri

import (
	"encoding/json"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-cri/berth/container"
)

func TestContainerStatusFields(t *testing.T) {
	created := time.Unix(100, 0)
	c := &container.Container{Metadata: container.Metadata{
		ID: "c1", SandboxID: "s1",
		Config: &runtimeapi.ContainerConfig{
			Metadata:    &runtimeapi.ContainerMetadata{Name: "app", Attempt: 2},
			Image:       &runtimeapi.ImageSpec{Image: "sha256:abc", UserSpecifiedImage: "busybox"},
			Labels:      map[string]string{"io.kubernetes.pod.name": "p"},
			Annotations: map[string]string{"io.kubernetes.container.restartCount": "2"},
			Mounts:      []*runtimeapi.Mount{{ContainerPath: "/dev/termination-log", HostPath: "/var/lib/kubelet/x"}},
		},
		ImageRef: "docker.io/library/busybox@sha256:def", ImageID: "sha256:abc", ImageName: "busybox",
		LogPath: "/var/log/pods/ns_p_u/app/2.log", CreatedAt: created,
		User:        container.User{UID: 1000, GID: 3000, SupplementalGroups: []uint32{3000, 4000}},
		CgroupsPath: "/kubepods/podu/c1", StopSignal: "SIGTERM",
	}}
	running := container.Status{State: runtimeapi.ContainerState_CONTAINER_RUNNING, Pid: 42, StartedAt: created.Add(time.Second),
		Resources: &runtimeapi.LinuxContainerResources{CpuShares: 512}}
	st := containerStatus(c, running)
	if st.CreatedAt != created.UnixNano() || st.StartedAt != created.Add(time.Second).UnixNano() || st.FinishedAt != 0 {
		t.Errorf("times: created %d started %d finished %d", st.CreatedAt, st.StartedAt, st.FinishedAt)
	}
	if st.ImageRef != c.ImageRef || st.ImageId != c.ImageID || st.Image.Image != "busybox" || st.Image.UserSpecifiedImage != "busybox" {
		t.Errorf("image fields: %v %q %q", st.Image, st.ImageRef, st.ImageId)
	}
	if u := st.User.GetLinux(); u.Uid != 1000 || u.Gid != 3000 || len(u.SupplementalGroups) != 2 {
		t.Errorf("user = %v", u)
	}
	if st.Resources.GetLinux().GetCpuShares() != 512 || st.LogPath != c.LogPath || len(st.Mounts) != 1 || st.Metadata.Attempt != 2 {
		t.Errorf("resources %v, log path %q, mounts %v, metadata %v", st.Resources, st.LogPath, st.Mounts, st.Metadata)
	}
	if st.Labels["io.kubernetes.pod.name"] != "p" || st.Annotations["io.kubernetes.container.restartCount"] != "2" {
		t.Errorf("labels or annotations lost: %v %v", st.Labels, st.Annotations)
	}

	exited := container.Status{State: runtimeapi.ContainerState_CONTAINER_EXITED, StartedAt: created, FinishedAt: created.Add(time.Minute), ExitCode: 137, Reason: container.ReasonOOMKilled}
	st = containerStatus(c, exited)
	if st.ExitCode != 137 || st.Reason != "OOMKilled" || st.FinishedAt != created.Add(time.Minute).UnixNano() || st.Resources != nil {
		t.Errorf("exited status = %v", st)
	}

	var info struct {
		Pid         uint32 `json:"pid"`
		SandboxID   string `json:"sandboxID"`
		CgroupsPath string `json:"cgroupsPath"`
	}
	if err := json.Unmarshal([]byte(containerInfo(c, running)["info"]), &info); err != nil || info.Pid != 42 || info.SandboxID != "s1" || info.CgroupsPath != c.CgroupsPath {
		t.Errorf("verbose info = %+v, %v", info, err)
	}
}
