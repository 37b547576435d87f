package images

import (
	"fmt"
	"strings"
)

// User is one line of /etc/passwd.
type User struct {
	Name     string
	UID, GID int
	Gecos    string
	Home     string
	Shell    string
}

// Group is one line of /etc/group.
type Group struct {
	Name    string
	GID     int
	Members []string
}

// busyboxUsers and busyboxGroups are the accounts of the upstream busybox
// image, which critest's images build on: it runs containers as "nobody"
// by name and the user test images name "www-data".
var busyboxUsers = []User{
	{Name: "root", UID: 0, GID: 0, Gecos: "root", Home: "/root", Shell: "/bin/sh"},
	{Name: "daemon", UID: 1, GID: 1, Gecos: "daemon", Home: "/usr/sbin", Shell: "/bin/false"},
	{Name: "bin", UID: 2, GID: 2, Gecos: "bin", Home: "/bin", Shell: "/bin/false"},
	{Name: "sys", UID: 3, GID: 3, Gecos: "sys", Home: "/dev", Shell: "/bin/false"},
	{Name: "sync", UID: 4, GID: 100, Gecos: "sync", Home: "/bin", Shell: "/bin/sync"},
	{Name: "mail", UID: 8, GID: 8, Gecos: "mail", Home: "/var/spool/mail", Shell: "/bin/false"},
	{Name: "www-data", UID: 33, GID: 33, Gecos: "www-data", Home: "/var/www", Shell: "/bin/false"},
	{Name: "operator", UID: 37, GID: 37, Gecos: "Operator", Home: "/var", Shell: "/bin/false"},
	{Name: "nobody", UID: 65534, GID: 65534, Gecos: "nobody", Home: "/home", Shell: "/bin/false"},
}

var busyboxGroups = []Group{
	{Name: "root", GID: 0},
	{Name: "daemon", GID: 1},
	{Name: "bin", GID: 2},
	{Name: "sys", GID: 3},
	{Name: "adm", GID: 4},
	{Name: "tty", GID: 5},
	{Name: "disk", GID: 6},
	{Name: "lp", GID: 7},
	{Name: "mail", GID: 8},
	{Name: "kmem", GID: 9},
	{Name: "wheel", GID: 10, Members: []string{"root"}},
	{Name: "cdrom", GID: 11},
	{Name: "dialout", GID: 18},
	{Name: "floppy", GID: 19},
	{Name: "video", GID: 28},
	{Name: "audio", GID: 29},
	{Name: "tape", GID: 32},
	{Name: "www-data", GID: 33},
	{Name: "operator", GID: 37},
	{Name: "utmp", GID: 43},
	{Name: "plugdev", GID: 46},
	{Name: "staff", GID: 50},
	{Name: "lock", GID: 54},
	{Name: "netdev", GID: 82},
	{Name: "users", GID: 100},
	{Name: "nogroup", GID: 65534},
}

// PasswdFile renders users as /etc/passwd.
func PasswdFile(users []User) []byte {
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "%s:x:%d:%d:%s:%s:%s\n", u.Name, u.UID, u.GID, u.Gecos, u.Home, u.Shell)
	}
	return []byte(b.String())
}

// GroupFile renders groups as /etc/group.
func GroupFile(groups []Group) []byte {
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "%s:x:%d:%s\n", g.Name, g.GID, strings.Join(g.Members, ","))
	}
	return []byte(b.String())
}
