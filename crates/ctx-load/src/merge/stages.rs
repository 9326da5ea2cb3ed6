//! A staged run's per-stage figures, merged exactly: each stage's requests
//! and successes are summed and its latency histograms (`hdr.stages`) added,
//! then the figures are derived as a run derives them
//! ([`StageFigures::new`]), so a stage's rates are the sums of the inputs'
//! and its percentiles those of all its requests together.

use std::path::Path;

use hdrhistogram::Histogram;

use super::compatible::incompatible;
use super::merged_rate;
use crate::error::LoadError;
use crate::model::{ScenarioReport, StageFigures, StageSpan, decode_histogram, new_histogram};

/// One scenario's stages, merged.
pub(super) struct MergedStages {
    pub figures: Vec<StageFigures>,
    /// The histogram behind each of `figures`, kept so the merged report merges further.
    pub latency: Vec<Histogram<u64>>,
    /// Why the stages could not be merged (an input without per-stage
    /// histograms): the merged scenario then has the run's figures only.
    pub dropped: Option<String>,
}

/// Merges the stages of one scenario of every input. Every worker of one
/// run (`whole_run`) gives the plan's levels (`from`, `to`, hence the target
/// rate), which each records; otherwise the inputs' levels add up, as their
/// rates and clients do ([`super::merged_rate`]).
pub(super) fn merge_stages(
    parts: &[(&Path, &ScenarioReport)],
    whole_run: bool,
) -> Result<MergedStages, LoadError> {
    let (first_path, first) = parts[0];
    let spans: Vec<StageSpan> = first.metrics.stages.iter().map(|s| s.span).collect();
    for (path, part) in &parts[1..] {
        let same_stages = part.metrics.stages.len() == spans.len()
            && part.metrics.stages.iter().zip(&spans).all(|(stage, span)| {
                let theirs = stage.span;
                (
                    theirs.stage,
                    theirs.ramps,
                    theirs.start_secs,
                    theirs.end_secs,
                ) == (span.stage, span.ramps, span.start_secs, span.end_secs)
            });
        if !same_stages {
            return Err(incompatible(
                first_path,
                path,
                format!("{} ran in different stages", first.name),
            ));
        }
    }
    let mut merged = MergedStages {
        figures: Vec::new(),
        latency: Vec::new(),
        dropped: None,
    };
    if spans.is_empty() {
        return Ok(merged);
    }
    if let Some((path, _)) = parts
        .iter()
        .find(|(_, p)| p.hdr.as_ref().map_or(0, |h| h.stages.len()) != spans.len())
    {
        merged.dropped = Some(format!(
            "{}: scenario {} has no per-stage histograms (written before ctx load kept \
             them): the merged report has its whole-run figures but no per-stage ones",
            path.display(),
            first.name
        ));
        return Ok(merged);
    }
    for (i, span) in spans.iter().enumerate() {
        let mut latency = new_histogram();
        let (mut requests, mut success) = (0, 0);
        let (mut from, mut to) = (Vec::new(), Vec::new());
        for (path, part) in parts {
            let stage = &part.metrics.stages[i];
            requests += stage.requests;
            success += stage.success;
            from.push((stage.span.from, stage.run_from));
            to.push((stage.span.to, stage.run_to));
            let bad = |why: String| {
                LoadError::InvalidOption(format!(
                    "{}: scenario {}: hdr.stages[{i}]: {why}",
                    path.display(),
                    part.name
                ))
            };
            let text = part.hdr.as_ref().map_or("", |h| h.stages[i].as_str());
            let histogram = decode_histogram(text).map_err(bad)?;
            latency
                .add(&histogram)
                .map_err(|e| bad(format!("cannot add: {e:?}")))?;
        }
        let span = StageSpan {
            from: merged_rate(&from, whole_run),
            to: merged_rate(&to, whole_run),
            ..*span
        };
        merged
            .figures
            .push(StageFigures::new(span, requests, success, &latency));
        merged.latency.push(latency);
    }
    Ok(merged)
}
