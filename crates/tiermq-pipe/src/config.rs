//! Water-mark configuration of a pipe.

/// Capacity and hysteresis of one pipe.
///
/// Capacity is counted in messages: a multipart message stored as one `T`
/// counts once, however many frames or bytes it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// High-water mark: the pipe is full once it holds this many messages.
    /// `0` means no limit (the pipe is never full).
    pub hwm: usize,
    /// Low-water mark: a full pipe accepts messages again once the reader
    /// has drained it to this many or fewer. `None` means `hwm / 2`. Values
    /// at or above `hwm` are clamped to `hwm - 1`.
    pub lwm: Option<usize>,
}

impl Config {
    /// A pipe holding at most `hwm` messages (`0`: no limit), low-water mark
    /// `hwm / 2`.
    pub const fn new(hwm: usize) -> Self {
        Config { hwm, lwm: None }
    }

    /// The same configuration with the low-water mark set to `lwm`
    /// (clamped below the high-water mark).
    pub const fn with_lwm(mut self, lwm: usize) -> Self {
        self.lwm = Some(lwm);
        self
    }

    /// The effective low-water mark: `hwm / 2` by default, always below
    /// `hwm`, and `0` when there is no limit.
    pub fn effective_lwm(&self) -> usize {
        if self.hwm == 0 {
            return 0;
        }
        self.lwm.unwrap_or(self.hwm / 2).min(self.hwm - 1)
    }
}

impl Default for Config {
    /// SNDHWM's default: 1000 messages, low-water mark 500.
    fn default() -> Self {
        Config::new(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lwm_defaults_to_half_and_is_clamped_below_hwm() {
        assert_eq!(Config::new(1000).effective_lwm(), 500);
        assert_eq!(Config::new(1).effective_lwm(), 0);
        assert_eq!(Config::new(0).effective_lwm(), 0);
        assert_eq!(Config::new(10).with_lwm(10).effective_lwm(), 9);
        assert_eq!(Config::new(10).with_lwm(99).effective_lwm(), 9);
        assert_eq!(Config::new(10).with_lwm(3).effective_lwm(), 3);
        assert_eq!(Config::new(0).with_lwm(3).effective_lwm(), 0);
    }
}
