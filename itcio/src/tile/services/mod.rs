//! The services `itcd` answers itself, and the table ([`Services`]) that
//! hands a packet to the one that owns its service number. What a service
//! is and sees is in [`service`].
//!
//! Adding a service is one new file in this directory, holding a type
//! that implements [`Service`], and one line naming it in the
//! `services!` list below (`module::Type,`), which declares the module
//! and registers the handler:
//!
//! ```text
//! services! {
//!     hello::Hello,
//!     echo::Echo,
//!     mine::Mine,   // itcio/src/tile/services/mine.rs
//! }
//! ```

pub mod service;

use std::time::Instant;

use crate::tile::config::Config;
use crate::tile::links::Links;
use itc_proto::MAX_SERVICE;
pub use service::{Context, Event, Notice, Service};

/// Declares each service module and registers its handler: one line per
/// service.
macro_rules! services {
    ($($module:ident :: $handler:ident),* $(,)?) => {
        $(mod $module;)*

        fn handlers(cfg: &Config) -> Vec<Box<dyn Service>> {
            vec![$(Box::new(<$module::$handler as Service>::new(cfg))),*]
        }
    };
}

services! {
    hello::Hello,
    echo::Echo,
}

/// The services `itcd` answers, by number.
pub struct Services {
    handlers: Vec<Box<dyn Service>>,
    /// Index into `handlers` per service number.
    by_number: [Option<u8>; MAX_SERVICE as usize + 1],
}

impl Services {
    /// Every registered service, for a tile with these settings.
    pub fn new(cfg: &Config) -> Services {
        let handlers = handlers(cfg);
        let mut by_number = [None; MAX_SERVICE as usize + 1];
        for (i, h) in handlers.iter().enumerate() {
            assert!(h.number() <= MAX_SERVICE, "service {} too big", h.number());
            let slot = &mut by_number[usize::from(h.number())];
            assert!(slot.is_none(), "service {} registered twice", h.number());
            *slot = Some(i as u8);
        }
        Services {
            handlers,
            by_number,
        }
    }

    /// The service that owns number `n`, if `itcd` answers it.
    pub fn get_mut(&mut self, n: u8) -> Option<&mut dyn Service> {
        let i = (*self.by_number.get(usize::from(n))?)?;
        Some(self.handlers[usize::from(i)].as_mut())
    }

    /// Let every service act on `event`.
    pub fn on_event(&mut self, ctx: &mut Context<'_>, event: Event) {
        for h in &mut self.handlers {
            h.on_event(ctx, event);
        }
    }

    /// The earliest time a service has something to do.
    pub fn next_deadline(&self, links: &Links) -> Option<Instant> {
        self.handlers
            .iter()
            .filter_map(|h| h.next_deadline(links))
            .min()
    }

    /// Let every service do what was due by `ctx.now`.
    pub fn on_timer(&mut self, ctx: &mut Context<'_>) {
        for h in &mut self.handlers {
            h.on_timer(ctx);
        }
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let numbers: Vec<u8> = self.handlers.iter().map(|h| h.number()).collect();
        f.debug_struct("Services")
            .field("numbers", &numbers)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_proto::{SVC_ECHO, SVC_HELLO};

    #[test]
    fn hello_and_echo_are_registered_by_number() {
        let mut services = Services::new(&Config::default());
        assert_eq!(
            services.get_mut(SVC_HELLO).map(|s| s.number()),
            Some(SVC_HELLO)
        );
        assert!(services.get_mut(SVC_HELLO).unwrap().takes_absent());
        assert_eq!(
            services.get_mut(SVC_ECHO).map(|s| s.number()),
            Some(SVC_ECHO)
        );
        assert!(!services.get_mut(SVC_ECHO).unwrap().takes_absent());
        assert!(services.get_mut(3).is_none());
        assert!(services.get_mut(255).is_none());
    }
}
