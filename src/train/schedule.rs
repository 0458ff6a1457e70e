//! Learning-rate schedule: linear warmup from 0 to the peak over `warmup_steps`, then linear
//! decay to 0 at `total_steps` (the BERT fine-tuning schedule).

/// Warmup + linear decay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmupLinear {
    /// Peak learning rate.
    pub peak: f64,
    /// Steps of linear warmup.
    pub warmup_steps: usize,
    /// Total optimisation steps (the rate reaches 0 there).
    pub total_steps: usize,
}

impl WarmupLinear {
    /// The learning rate at 0-based `step` (the rate used for the update of that step).
    pub fn rate(&self, step: usize) -> f64 {
        let s = step as f64 + 1.0;
        if step < self.warmup_steps {
            return self.peak * s / self.warmup_steps as f64;
        }
        let decay_span = (self.total_steps.saturating_sub(self.warmup_steps)).max(1) as f64;
        let remaining = (self.total_steps as f64 - step as f64) / decay_span;
        self.peak * remaining.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_then_decays_to_zero() {
        let s = WarmupLinear { peak: 1e-3, warmup_steps: 10, total_steps: 110 };
        assert!((s.rate(0) - 1e-4).abs() < 1e-12);
        assert!((s.rate(9) - 1e-3).abs() < 1e-12);
        assert!((s.rate(10) - 1e-3).abs() < 1e-12);
        assert!((s.rate(60) - 5e-4).abs() < 1e-12);
        assert!(s.rate(109) > 0.0 && s.rate(110) == 0.0);
        let rates: Vec<f64> = (10..110).map(|i| s.rate(i)).collect();
        assert!(rates.windows(2).all(|w| w[1] <= w[0]));
    }
}
