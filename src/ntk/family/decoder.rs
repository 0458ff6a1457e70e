//! [`NtkModel`] for the decoder [`DecoderLm`] (docs/science.md "Decoders and the frozen-LLM
//! side"; docs/ntk.md "Decoders"): f = z_yes − z_no (or the sequence classifier's margin) at the
//! last real token, O = the readout (the two label words, or the classes).
//!
//! * Subsets: the embedding tables are the token table (`model.embed_tokens` /
//!   `transformer.wte`) and GPT-2's positions (`transformer.wpe`); the head is the unembedding
//!   rows (`lm_head`, or the tied table's *output use*) or the sequence-classification `score`.
//! * The unembedding's probe gradient is `[V]` per example but non-zero only on the readout
//!   rows (the logits reach f through those two columns only): [`NtkModel::finish_signals`]
//!   keeps those columns (checking the rest are zero), so an untied `lm_head` is contracted as
//!   a `[H → 2]` Linear, exactly.
//! * **Tied embedding** E (one parameter, two uses). With g_t = ∂f/∂(E[tok_t]) the input use's
//!   signal at token t and u_r = ∂f/∂z_r the unembedding's signal at readout row r (z = E φ),
//!   ∇E f = Σ_t e_{tok_t} g_tᵀ + Σ_r e_r (u_r φ)ᵀ: a sum of rows (id, vector) — the input rows
//!   (tok_t, g_t) and one *output row* (r, u_r φ) per readout row. Hence
//!   ⟨∇E f(x), ∇E f(x')⟩ = Σ_{rows a of x, b of x'} [id_a = id_b] (v_a · v'_b), the token-match
//!   term over both row sets, which expands to the input term
//!   Σ_{t,s}[tok_t = tok'_s] g_t·g'_s, the output term (u·u')(φ·φ'), and the two cross terms
//!   Σ_t u'_{tok_t} (g_t·φ') + Σ_s u_{tok'_s} (φ·g'_s) (non-zero when a label word occurs in the
//!   prompt). [`NtkModel::finish_signals`] appends the output rows to the table's rows, so the
//!   engine's token-match kernel computes all four terms as ONE parameter group. Under
//!   [`ParamSubset::ExcludeHead`] only the input rows count (the output use is the head); under
//!   [`ParamSubset::ExcludeEmbeddings`] neither.

use burn::module::{Module, Param};
use burn::tensor::{Device, Gradients, Int, Tensor, TensorData};
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::model::decoder::linear::Linear;
use crate::model::decoder::lm::DecoderBlock;
use crate::model::decoder::{DecoderBatch, DecoderLm, Readout};
use crate::model::dense::tensor_to_host;
use crate::model::probe::Tap;
use crate::model::{LayerKind, WeightMap};
use crate::ntk::cost::{
    decoder_attention_flops, decoder_forward_flops, decoder_packed_attention_flops, decoder_packed_forward_flops,
};
use crate::ntk::family::{NtkModel, ParamRole, ReadoutLayer};
use crate::ntk::fastfb::llama::HostLlama;
use crate::ntk::fastfb::FastModel;
use crate::ntk::options::ParamSubset;
use crate::ntk::signals::{LayerSignals, Pooled, PooledLayers, SignalInput};
use crate::tokenize::PaddedBatch;

/// The probe name of the unembedding (`lm_head`, or the tied token table's name) and the
/// vocabulary rows it is read at, for a language model with label words.
fn unembedding(model: &DecoderLm) -> Option<(&str, [u32; 2])> {
    match (&model.readout, &model.score_head, &model.lm_head) {
        (Readout::LabelWords { ids, .. }, None, Some(head)) => Some((head.name.as_str(), *ids)),
        (Readout::LabelWords { ids, .. }, None, None) => Some((model.embed.name.as_str(), *ids)),
        _ => None,
    }
}

/// True when the unembedding is the token table (tied weights, label-word readout).
fn tied(model: &DecoderLm) -> bool {
    model.lm_head.is_none() && model.score_head.is_none() && matches!(model.readout, Readout::LabelWords { .. })
}

fn signals_error(reason: String) -> Error {
    Error::Numerical { context: "decoder eNTK signals".into(), reason }
}

/// Keep the readout columns `ids` of the unembedding's `[R, V]` gradient, checking that every
/// other column is zero (f reads the logits at those rows only).
fn keep_readout_columns(layer: &mut LayerSignals, ids: &[u32]) -> Result<()> {
    let v = layer.d_out;
    if ids.iter().any(|&i| i as usize >= v) {
        return Err(signals_error(format!("{}: readout row outside its {v} outputs", layer.name)));
    }
    let mut kept = Vec::with_capacity(layer.grad.len() / v.max(1) * ids.len());
    for row in layer.grad.chunks(v) {
        let outside = row.iter().enumerate().any(|(c, &g)| g != 0.0 && !ids.contains(&(c as u32)));
        if outside {
            return Err(signals_error(format!("{}: gradient outside the readout rows", layer.name)));
        }
        kept.extend(ids.iter().map(|&i| row[i as usize]));
    }
    layer.grad = kept;
    layer.d_out = ids.len();
    Ok(())
}

/// Append the tied unembedding's output rows (id r, vector u_r φ) to the token table's rows,
/// per virtual example (see the module docs). `output` has its readout columns kept already.
fn merge_output_rows(table: &mut LayerSignals, output: &LayerSignals, ids: &[u32]) -> Result<()> {
    let (SignalInput::Ids(table_ids), SignalInput::Activation(phi)) = (&table.input, &output.input) else {
        return Err(signals_error(format!("{}: unexpected tied-embedding signals", table.name)));
    };
    let (h, k) = (table.d_out, ids.len());
    let examples = table.rows.len();
    if output.d_in != h || output.rows.len() != examples || output.rows.iter().any(|&r| r != 1) {
        return Err(signals_error(format!("{}: unembedding rows do not match the table's", table.name)));
    }
    let (mut new_ids, mut grad, mut rows) = (Vec::new(), Vec::new(), Vec::with_capacity(examples));
    let mut start = 0;
    for (e, &r) in table.rows.iter().enumerate() {
        new_ids.extend_from_slice(&table_ids[start..start + r]);
        grad.extend_from_slice(&table.grad[start * h..(start + r) * h]);
        let phi_e = &phi[e * h..(e + 1) * h];
        for (c, &id) in ids.iter().enumerate() {
            let u = output.grad[e * k + c];
            new_ids.push(id);
            grad.extend(phi_e.iter().map(|&p| u * p));
        }
        rows.push(r + k);
        start += r;
    }
    table.input = SignalInput::Ids(new_ids);
    table.grad = grad;
    table.rows = rows;
    Ok(())
}

impl NtkModel for DecoderLm {
    fn family(&self) -> &'static str {
        "decoder"
    }

    fn num_outputs(&self) -> usize {
        self.config.num_labels().unwrap_or(2)
    }

    fn readout(&self, padded: &PaddedBatch, device: &Device, tap: Tap<'_>) -> Result<Tensor<2>> {
        Ok(self.logits(&DecoderBatch::new(padded, &self.config, device)?, tap))
    }

    fn margin(&self, padded: &PaddedBatch, device: &Device, tap: Tap<'_>) -> Result<Tensor<1>> {
        Ok(self.score(&DecoderBatch::new(padded, &self.config, device)?, tap))
    }

    fn features(&self, padded: &PaddedBatch, device: &Device) -> Result<Tensor<2>> {
        Ok(DecoderLm::features(self, &DecoderBatch::new(padded, &self.config, device)?, None))
    }

    fn readout_layer(&self) -> Result<ReadoutLayer> {
        let h = self.config.hidden_size;
        // Every weight below is [rows, H] after the transposes: score [H, O] and lm_head [H, V]
        // are stored in burn's [d_in, d_out] layout, the token table as [V, H].
        let rows = match (&self.score_head, &self.lm_head, &self.readout) {
            (Some(score), _, _) => score.weight.val().transpose(),
            (None, head, Readout::LabelWords { ids, .. }) => {
                let table = head.as_ref().map_or_else(|| self.embed.weight.val(), |l| l.weight.val().transpose());
                let index: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
                let index = Tensor::<1, Int>::from_data(TensorData::new(index, [2]), &table.device());
                table.select(0, index)
            }
            (None, _, Readout::Classes) => return Err(Error::invalid("readout", "a language model needs label words")),
        };
        let host = tensor_to_host(rows)?;
        let o = host.data.len() / h;
        Ok(ReadoutLayer { weight: Array2::from_shape_vec((o, h), host.data).expect("[O, H] rows"), bias: None })
    }

    fn gradients(&self, grads: &Gradients) -> Result<WeightMap> {
        DecoderLm::gradients(self, grads)
    }

    fn param_role(&self, param: &str) -> ParamRole {
        let tables = std::iter::once(&self.embed.name).chain(self.positions.as_ref().map(|p| &p.name));
        let embedding = tables.map(|t| format!("{t}.weight")).any(|t| t == param);
        let head = ["lm_head.", "score."].iter().any(|p| param.starts_with(p));
        ParamRole { embedding, head }
    }

    fn layer_role(&self, layer: &str, kind: LayerKind) -> ParamRole {
        if layer == self.embed.name && kind == LayerKind::LinearNoBias {
            // The tied unembedding: the token table's output use.
            return ParamRole { embedding: true, head: true };
        }
        self.param_role(&format!("{layer}.weight"))
    }

    fn frozen(&self) -> Box<dyn NtkModel> {
        Box::new(self.clone().no_grad())
    }

    fn fast_model(&self) -> Result<Option<FastModel>> {
        // GPT-2 and an f64 model (the finite-difference checks) keep burn's pass.
        if !HostLlama::supports(self) {
            return Ok(None);
        }
        HostLlama::from_decoder(self).map(|m| Some(FastModel::Llama(Box::new(m))))
    }

    fn pooled_layers(&self) -> Option<PooledLayers> {
        // The readout is at each example's last real token: above the last block's attention,
        // only that row's output matters, and inside it only that row's query (a Llama block's
        // `q_proj`; GPT-2's `c_attn` also makes the keys and values every row feeds).
        let names: Vec<&String> = match self.blocks.last()? {
            DecoderBlock::Llama(b) => {
                let (a, m) = (&b.attention, &b.mlp);
                let upper = [&a.o_proj.name, &b.post_norm.name, &m.gate_proj.name, &m.up_proj.name, &m.down_proj.name];
                std::iter::once(&a.q_proj.name).chain(upper).collect()
            }
            DecoderBlock::Gpt2(b) => vec![&b.attention.c_proj.name, &b.ln_2.name, &b.mlp.c_fc.name, &b.mlp.c_proj.name],
        };
        Some(PooledLayers { at: Pooled::Last, names: names.into_iter().cloned().collect() })
    }

    fn finish_signals(&self, mut layers: Vec<LayerSignals>, subset: ParamSubset) -> Result<Vec<LayerSignals>> {
        let Some((name, ids)) = unembedding(self) else { return Ok(layers) };
        let position = layers.iter().position(|l| l.name == name && l.kind == LayerKind::LinearNoBias);
        let Some(position) = position else {
            return Err(signals_error(format!("no unembedding probe `{name}`")));
        };
        keep_readout_columns(&mut layers[position], &ids)?;
        let param = format!("{name}.weight");
        let keeps = |kind| subset.keeps(&param, self.layer_role(name, kind));
        if tied(self) && keeps(LayerKind::Embedding) && keeps(LayerKind::LinearNoBias) {
            let output = layers.remove(position);
            let table = layers
                .iter_mut()
                .find(|l| l.name == name && l.kind == LayerKind::Embedding)
                .ok_or_else(|| signals_error(format!("no token-table probe `{name}`")))?;
            merge_output_rows(table, &output, &ids)?;
        }
        Ok(layers)
    }

    fn naive_model(&self, subset: ParamSubset) -> Option<Box<dyn NtkModel>> {
        if subset != ParamSubset::ExcludeHead || !tied(self) {
            return None;
        }
        // The unembedding as its own parameter `lm_head` ([H, V], a detached copy of the table):
        // the table's gradient is then the input use's alone.
        // (Rebuilt from its data: burn's autodiff makes only a fresh tensor a leaf parameter.)
        let table = self.embed.weight.val();
        let device = table.device();
        let weight = Tensor::<2>::from_data(table.transpose().into_data(), &device);
        let mut untied = self.clone();
        untied.lm_head =
            Some(Linear { weight: Param::from_tensor(weight), bias: None, name: "lm_head".into(), in_out: false });
        Some(Box::new(untied))
    }

    fn forward_flops(&self, rows: usize, seq_len: usize) -> f64 {
        decoder_forward_flops(&self.config, rows, seq_len)
    }

    fn packed_forward_flops(&self, len: usize) -> f64 {
        decoder_packed_forward_flops(&self.config, len)
    }

    fn attention_flops(&self, rows: usize, seq_len: usize) -> f64 {
        decoder_attention_flops(&self.config, rows, seq_len)
    }

    fn packed_attention_flops(&self, len: usize) -> f64 {
        decoder_packed_attention_flops(&self.config, len)
    }
}
