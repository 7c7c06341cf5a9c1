// hush dashboard: the account part of Settings (change the password,
// two-factor login for whoever is logged in, read-only users). Loaded before app.js, which
// calls window.hushAccount(helpers) once. Network text stays text.
'use strict';

window.hushAccount = function ({el, clear, api, toast, failed, section, table, when}) {
  // A QR code the server drew (SVG) as an image: CSP allows data: images.
  function qrImage(svg) {
    const bytes = new TextEncoder().encode(svg);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return el('img', {id: 'totp-qr', class: 'qr', alt: 'QR code for an authenticator app', width: 200, height: 200,
      src: 'data:image/svg+xml;base64,' + btoa(bin)});
  }

  function passwordForm() {
    const current = el('input', {type: 'password', id: 'current-password', autocomplete: 'current-password', required: true, 'aria-label': 'Current password', placeholder: 'current password'});
    const fresh = el('input', {type: 'password', id: 'new-password', autocomplete: 'new-password', required: true, minlength: 8, 'aria-label': 'New password', placeholder: 'new password (8+ characters)'});
    const again = el('input', {type: 'password', id: 'new-password-again', autocomplete: 'new-password', required: true, 'aria-label': 'New password again', placeholder: 'new password again'});
    const msg = el('p', {class: 'error', id: 'password-error'});
    const form = el('form', {class: 'inline-form', id: 'password-form'}, current, fresh, again,
      el('button', {type: 'submit'}, 'Change password'));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      msg.textContent = '';
      if (fresh.value !== again.value) { msg.textContent = 'The new passwords differ.'; return; }
      try {
        await api('PUT', '/api/account/password', {current: current.value, new: fresh.value});
        form.reset();
        toast('Password changed; every other session is logged out');
      } catch (e) { msg.textContent = e.message; }
    });
    return [form, msg];
  }

  // Off: a button that shows the secret and its QR code, then asks for a
  // code to switch it on and shows the recovery codes once. On: turning it
  // off takes the password and a code.
  function totpBox(account, redraw) {
    const box = el('div', {id: 'totp'});
    const msg = el('p', {class: 'error', id: 'totp-error'});
    if (account.totp_enabled) {
      const pw = el('input', {type: 'password', id: 'totp-off-password', autocomplete: 'current-password', required: true, placeholder: 'password', 'aria-label': 'Password'});
      const code = el('input', {type: 'text', id: 'totp-off-code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, placeholder: 'code or recovery code', 'aria-label': 'Code'});
      const form = el('form', {class: 'inline-form', id: 'totp-off'}, pw, code, el('button', {type: 'submit', class: 'danger'}, 'Turn off two-factor login'));
      form.addEventListener('submit', async ev => {
        ev.preventDefault();
        try {
          await api('DELETE', '/api/account/totp', {password: pw.value, code: code.value.trim()});
          toast('Two-factor login is off');
          redraw();
        } catch (e) { msg.textContent = e.message; }
      });
      box.append(el('p', {id: 'totp-state'}, 'Two-factor login is on. ', el('span', {class: 'muted'}, account.recovery_codes_left + ' recovery codes left.')), form, msg);
      return box;
    }
    const start = el('button', {id: 'totp-start', type: 'button'}, 'Set up two-factor login');
    start.addEventListener('click', async () => {
      try {
        const t = await api('POST', '/api/account/totp');
        const code = el('input', {type: 'text', id: 'totp-code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: 6, placeholder: '6-digit code', 'aria-label': 'Code from the app'});
        const form = el('form', {class: 'inline-form', id: 'totp-confirm'}, code, el('button', {type: 'submit'}, 'Turn on'));
        form.addEventListener('submit', async ev => {
          ev.preventDefault();
          try {
            const r = await api('POST', '/api/account/totp/confirm', {code: code.value.trim()});
            clear(box);
            box.append(el('p', {id: 'totp-state'}, 'Two-factor login is on.'),
              el('p', {}, 'Recovery codes: each logs in once without the phone. Keep them somewhere safe; they are not shown again.'),
              el('ul', {class: 'codes', id: 'recovery-codes'}, r.recovery_codes.map(c => el('li', {}, c))),
              el('button', {type: 'button', onclick: redraw}, 'Done'));
          } catch (e) { msg.textContent = e.message; }
        });
        clear(box);
        box.append(el('p', {}, 'Scan this with an authenticator app (or type the key), then enter the code it shows.'),
          qrImage(t.qr_svg), el('p', {}, 'Key: ', el('code', {id: 'totp-secret'}, t.secret)), form, msg);
        code.focus();
      } catch (e) { failed(e); }
    });
    box.append(el('p', {id: 'totp-state'}, 'Two-factor login is off: the password alone logs in.'), start, msg);
    return box;
  }

  function usersBox(users, redraw) {
    const name = el('input', {type: 'text', id: 'user-name', required: true, placeholder: 'name (a-z, 0-9)', pattern: '[a-z0-9_.\\-]{1,32}', 'aria-label': 'User name'});
    const pw = el('input', {type: 'password', id: 'user-password', autocomplete: 'new-password', required: true, minlength: 8, placeholder: 'password', 'aria-label': 'Password'});
    const form = el('form', {class: 'inline-form', id: 'user-form'}, name, pw, el('button', {type: 'submit'}, 'Add read-only user'));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      try {
        await api('POST', '/api/users', {name: name.value.trim(), password: pw.value});
        toast('Added ' + name.value.trim());
        redraw();
      } catch (e) { failed(e); }
    });
    return [users.length ? table([['User'], ['Role'], ['Added'], ['']], users.map(u => el('tr', {'data-user': u.name},
      el('td', {}, u.name), el('td', {}, u.role), el('td', {}, when(u.created * 1000)),
      el('td', {}, el('button', {class: 'small danger', onclick: async () => {
        try { await api('DELETE', '/api/users/' + encodeURIComponent(u.name)); redraw(); } catch (e) { failed(e); }
      }}, 'Remove'))))) : el('p', {class: 'muted'}, 'No read-only users.'),
    form, el('p', {class: 'muted'}, 'A read-only user sees every page and changes nothing.')];
  }

  // The "Account" section; `account` is GET /api/account.
  async function accountSection(account) {
    // Its own password and second factor are the changes a read-only user
    // may make (app.css shows them forms inside .own-account).
    const holder = el('div', {class: 'own-account'});
    const redraw = async () => {
      try {
        const a = await api('GET', '/api/account');
        clear(holder);
        holder.appendChild(await accountSection(a));
      } catch (e) { failed(e); }
    };
    const session = account.via === 'session';
    const admin = account.role === 'admin' && session && account.user === 'admin';
    const parts = [el('p', {id: 'account-who'}, 'Logged in as ', el('strong', {}, account.user), ' (' + account.role + ').')];
    if (session) parts.push(el('h3', {}, 'Password'), ...passwordForm());
    if (session) parts.push(el('h3', {}, 'Two-factor login'), totpBox(account, redraw));
    if (admin) parts.push(el('h3', {}, 'Read-only users'), ...usersBox((await api('GET', '/api/users')).users, redraw));
    holder.appendChild(section('Account', ...parts));
    return holder;
  }

  return {accountSection};
};
