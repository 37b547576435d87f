package images

import "testing"

func TestPasswdAndGroupFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{
			name: "passwd",
			got: PasswdFile([]User{
				{Name: "root", Gecos: "root", Home: "/root", Shell: "/bin/sh"},
				{Name: "default-user", UID: 1000, GID: 1000, Gecos: "Linux User,,,", Home: "/home/default-user", Shell: "/bin/sh"},
			}),
			want: "root:x:0:0:root:/root:/bin/sh\n" +
				"default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh\n",
		},
		{
			name: "group with and without members",
			got: GroupFile([]Group{
				{Name: "root", GID: 0},
				{Name: "group-defined-in-image", GID: 50000, Members: []string{"default-user"}},
				{Name: "wheel", GID: 10, Members: []string{"root", "default-user"}},
			}),
			want: "root:x:0:\n" +
				"group-defined-in-image:x:50000:default-user\n" +
				"wheel:x:10:root,default-user\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", tc.got, tc.want)
			}
		})
	}
}

func TestBusyboxAccountsCoverWhatCritestNames(t *testing.T) {
	users := map[string]int{}
	for _, u := range busyboxUsers {
		users[u.Name] = u.UID
	}
	// critest runs containers as RunAsUsername "nobody" and the user test
	// images name "www-data".
	for name, uid := range map[string]int{"root": 0, "nobody": 65534, "www-data": 33} {
		if got, ok := users[name]; !ok || got != uid {
			t.Errorf("user %s: got uid %d (present %v), want %d", name, got, ok, uid)
		}
	}
}
