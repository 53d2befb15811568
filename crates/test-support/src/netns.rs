//! Network namespaces for tests of where things are reachable from (issue 32): each
//! [`Vantage`] is a namespace joined to the host by a veth pair, `10.<net>.<k>.2` inside and
//! `10.<net>.<k>.1` on the host side, with no default route — so from inside, only the
//! host's address on that pair is reachable, and a service listening on some host-side
//! addresses only is reachable from some namespaces only. [`Vantage::run`] runs a future
//! on a thread that entered the namespace (a network namespace is per thread, and a
//! current-thread runtime opens every socket on that thread). Needs root (`ip netns`).

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

/// One namespace and its veth pair; removed on drop.
pub struct Vantage {
    pub name: String,
    /// The host's address on the pair (what the namespace reaches the host at).
    pub host_ip: IpAddr,
    /// The namespace's own address.
    pub inner_ip: IpAddr,
    host_link: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("the `ip` command (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {} (network namespaces need root)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl Vantage {
    /// Namespace `<prefix><k>` on subnet `10.<net>.<k>.0/24` (`prefix` short: interface
    /// names have at most 15 bytes). A leftover of an earlier run of the same name is
    /// removed first.
    pub fn create(prefix: &str, net: u8, k: u8) -> Self {
        let name = format!("{prefix}{k}");
        let (host_link, inner_link) = (format!("{name}h"), format!("{name}n"));
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = Command::new("ip")
            .args(["link", "del", &host_link])
            .output();
        ip(&["netns", "add", &name]);
        ip(&[
            "link",
            "add",
            &host_link,
            "type",
            "veth",
            "peer",
            "name",
            &inner_link,
        ]);
        ip(&["link", "set", &inner_link, "netns", &name]);
        let host_ip = Ipv4Addr::new(10, net, k, 1);
        let inner_ip = Ipv4Addr::new(10, net, k, 2);
        ip(&["addr", "add", &format!("{host_ip}/24"), "dev", &host_link]);
        ip(&["link", "set", &host_link, "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{inner_ip}/24"),
            "dev",
            &inner_link,
        ]);
        ip(&["-n", &name, "link", "set", &inner_link, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Self {
            name,
            host_ip: host_ip.into(),
            inner_ip: inner_ip.into(),
            host_link,
        }
    }

    /// Runs `make()`'s future to its end on a new thread inside the namespace.
    pub fn run<F, Fut>(&self, make: F) -> std::thread::JoinHandle<Fut::Output>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future + 'static,
        Fut::Output: Send + 'static,
    {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let ns = std::fs::File::open(&path).expect("the namespace's file");
            // SAFETY: setns on a valid namespace fd only changes this thread's namespace.
            let entered = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(make())
        })
    }
}

impl Drop for Vantage {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
    }
}
