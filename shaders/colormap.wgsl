// pdpaint overlay colormap: maps a single-channel 8-bit field (R8Unorm) through a 256-entry
// lookup table (row 0 viridis, row 1 magma; built on the CPU from pdpaint::maps::Colormap so
// both paths show the same colours) into a premultiplied overlay with an opacity.
//
// The quad covers the viewport egui sets for the paint callback (the visible part of the
// field on screen); `uv_min`/`uv_max` say which part of the field that is.

struct Params {
    uv_min: vec2<f32>,
    uv_max: vec2<f32>,
    opacity: f32,
    cmap_row: f32,
    _pad: vec2<f32>,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var field_tex: texture_2d<f32>;
@group(0) @binding(2) var lut_tex: texture_2d<f32>;
@group(0) @binding(3) var field_sampler: sampler;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

// A triangle strip of four vertices covering the viewport.
@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    let t = vec2<f32>(f32(i & 1u), f32(i >> 1u));
    var out: VsOut;
    out.pos = vec4<f32>(t.x * 2.0 - 1.0, 1.0 - t.y * 2.0, 0.0, 1.0);
    out.uv = mix(params.uv_min, params.uv_max, t);
    return out;
}

// The gamma-space colour of the field at `uv`.
fn lookup(uv: vec2<f32>) -> vec3<f32> {
    let v = textureSample(field_tex, field_sampler, uv).r;
    let level = i32(round(clamp(v, 0.0, 1.0) * 255.0));
    return textureLoad(lut_tex, vec2<i32>(level, i32(params.cmap_row)), 0).rgb;
}

fn linear_from_gamma(c: vec3<f32>) -> vec3<f32> {
    let lo = c / 12.92;
    let hi = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(hi, lo, c <= vec3<f32>(0.04045));
}

// For the usual (non-sRGB) framebuffer egui prefers: blend in gamma space like egui does.
@fragment
fn fs_gamma(in: VsOut) -> @location(0) vec4<f32> {
    let a = clamp(params.opacity, 0.0, 1.0);
    return vec4<f32>(lookup(in.uv) * a, a);
}

// For an sRGB framebuffer: the hardware encodes, so output linear colour.
@fragment
fn fs_linear(in: VsOut) -> @location(0) vec4<f32> {
    let a = clamp(params.opacity, 0.0, 1.0);
    return vec4<f32>(linear_from_gamma(lookup(in.uv)) * a, a);
}
